"""DSP primitives: pure functions of (frames, channels) float arrays and numbers, units in every name."""
