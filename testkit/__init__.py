"""Helpers shared by tests/ and benchmarks/: a small album project, fault injection, CLI runs.

Not shipped in the wheel (pyproject's package discovery includes only pipeline* and stages*);
pytest finds it through its `pythonpath` ini option, the benchmarks through the repository root.
"""
