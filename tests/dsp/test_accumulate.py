"""A sum's loops (dsp.accumulate, used by mixing.summed) give numpy's `out += signal * gain` bit for bit: a
stereo source's product in its own precision (float32 for the cache's float32 audio), a mono source's in float64
with its placement gains; whole signals and one signal of two (a stem's post- and pre-fader pair), offsets
and cuts at the block's edges."""

from __future__ import annotations

import numpy as np
import pytest

from mixbuild.stages.dsp.pan import mono_placement
from mixbuild.stages.mixing import MixInput, summed


def _numpy_sum(arrays, inputs, lo, hi):
    """The former formulation, kept as the reference."""
    out = np.zeros((hi - lo, 2))
    for audio, spec in zip(arrays, inputs):
        width = audio.shape[1] // spec.signals
        first = 0 if spec.tap == "post" else width
        signal = audio[:, first:first + width]
        gain = 10.0 ** (spec.level_db / 20.0)
        if width == 1:
            gain = mono_placement(*((spec.pan, spec.width) if spec.tap == "post" else (0.0, 1.0))) * gain
        start, stop = max(lo, spec.start_frame), min(hi, spec.start_frame + signal.shape[0])
        if start < stop:
            out[start - lo:stop - lo] += signal[start - spec.start_frame:stop - spec.start_frame] * gain
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_summed_equals_numpys_products_and_sums(dtype):
    rng = np.random.default_rng(3)
    shapes = [(5000, 1), (4000, 2), (3000, 2), (4500, 4), (100, 1)]
    signals = [1, 1, 2, 2, 1]
    arrays = [(rng.standard_normal(shape) * 0.3).astype(dtype) for shape in shapes]
    inputs = [MixInput(level_db=-3.7, pan=-0.4, width=1.6, start_frame=0),
              MixInput(level_db=2.1, start_frame=700),
              MixInput(tap="pre", signals=2, level_db=-11.0, start_frame=1500),  # mono post + pre
              MixInput(tap="pre", signals=2, level_db=-7.3, start_frame=10),  # stereo post + pre
              MixInput(level_db=0.0, pan=0.9, start_frame=4990)]  # runs past the end: cut
    for lo, hi in [(0, 5000), (0, 1234), (1234, 4999), (4990, 5000)]:
        got = summed(arrays, inputs, lo, hi)
        assert got.dtype == np.float64
        assert np.array_equal(got, _numpy_sum(arrays, inputs, lo, hi))  # bit for bit, not within a tolerance


def test_summed_refuses_audio_that_is_not_float():
    with pytest.raises(ValueError, match="float32 or float64"):
        summed([np.zeros((10, 2), dtype=np.int16)], [MixInput()], 0, 10)
