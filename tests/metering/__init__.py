"""Metering and mastering DSP tests: EBU Tech 3341/3342 conformance, analytic invariants, cross-checks."""
