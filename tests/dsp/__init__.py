"""Reference tests of the mixing DSP primitives (stages/dsp)."""
