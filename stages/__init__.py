"""Stage kinds (one module each) and the DSP primitives they are built from (stages/dsp/)."""
