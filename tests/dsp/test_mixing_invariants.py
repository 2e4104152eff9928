"""Invariants of every mixing primitive over sample rates x channel counts: read-only inputs are never
written, outputs are new float64 arrays of the promised shape, results are bit-identical on repeated
calls and in a fresh process, NaN input is refused, empty input gives empty output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mixbuild.stages.dsp.automation import envelope
from mixbuild.stages.dsp.compressor import compress
from mixbuild.stages.dsp.delay import apply_delay
from mixbuild.stages.dsp.eq import apply_sos, band_sos
from mixbuild.stages.dsp.pan import invert_polarity, pan_to_stereo, stereo_width
from mixbuild.stages.dsp.resample import resample
from mixbuild.stages.dsp.reverb import apply_reverb, reverb_ir

REPO = Path(__file__).resolve().parents[2]
RATES = (44100, 48000, 96000)
CHANNELS = (1, 2)


def _eq(x, rate):
    sos = np.concatenate([band_sos("highpass", 30, rate, slope_db_per_oct=24), band_sos("peak", 3000, rate, 4.0),
                          band_sos("high_shelf", 10000, rate, -3.0)])
    return apply_sos(x, sos)


# name -> (kernel(x, rate), output channels or None for "same as input")
KERNELS = {
    "eq": (_eq, None),
    "compressor": (lambda x, rate: compress(x, rate, -24.0, 4.0, sidechain_highpass_hz=80.0), None),
    "pan": (lambda x, rate: pan_to_stereo(x, 0.3), 2),
    "pan_automated": (lambda x, rate: pan_to_stereo(x, envelope([(0.0, -1.0), (0.05, 1.0)], x.shape[0], rate)), 2),
    "width": (lambda x, rate: stereo_width(x, 1.6), None),
    "polarity": (lambda x, rate: invert_polarity(x), None),
    "delay": (lambda x, rate: apply_delay(x, rate, 7.5, 0.6, highcut_hz=4000.0, mix=0.5), None),
    "reverb": (lambda x, rate: apply_reverb(x, reverb_ir(rate, 0.2, predelay_ms=3.0, seed=5)), 2),
}


def _signal(frames: int, channels: int, rate: int) -> np.ndarray:
    rng = np.random.default_rng(rate + channels)
    return (0.5 * rng.standard_normal((frames, channels))).astype(np.float32)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("name", KERNELS)
def test_read_only_input_new_float64_output_and_repeatable(name, channels, rate):
    kernel, out_channels = KERNELS[name]
    x = _signal(rate // 10, channels, rate)
    before = x.copy()
    x.setflags(write=False)  # what joblib hands workers: a read-only memory map
    y = kernel(x, rate)
    assert y.dtype == np.float64
    assert y.shape == (x.shape[0], out_channels or channels)
    assert not np.shares_memory(x, y) and y.flags.writeable
    assert np.isfinite(y).all()
    np.testing.assert_array_equal(x, before)
    assert np.array_equal(kernel(x, rate), y)  # bit-identical on a repeated call


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_resample_invariants(channels, rate):
    x = _signal(rate // 10, channels, rate)
    x.setflags(write=False)
    for target in RATES:
        y = resample(x, rate, target)
        assert y.dtype == np.float64 and y.shape[1] == channels and not np.shares_memory(x, y)
        assert abs(y.shape[0] - round(x.shape[0] * target / rate)) <= 1
        assert np.array_equal(resample(x, rate, target), y)


@pytest.mark.parametrize("name", KERNELS)
def test_nan_is_refused_and_empty_stays_empty(name):
    kernel, out_channels = KERNELS[name]
    bad = np.zeros((100, 2))
    bad[50, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        kernel(bad, 48000)
    assert kernel(np.zeros((0, 2)), 48000).shape == (0, out_channels or 2)


_DIGEST_SCRIPT = """
import hashlib, numpy as np
from mixbuild.stages.dsp.compressor import compress
from mixbuild.stages.dsp.reverb import apply_reverb, reverb_ir
rng = np.random.default_rng(11)
x = rng.standard_normal((48000, 2)) * np.repeat(10 ** (rng.uniform(-30, 0, 20) / 20), 2400)[:, None]
c = compress(x, 48000, -20.0, 4.0, knee_db=6.0, attack_ms=5.0, release_ms=50.0, sidechain_highpass_hz=60.0)
ir = reverb_ir(48000, 0.8, predelay_ms=12.0, damping=0.7, width=0.8, seed=42)
r = apply_reverb(x, ir)
print(hashlib.sha256(c.tobytes()).hexdigest(), hashlib.sha256(ir.tobytes()).hexdigest(),
      hashlib.sha256(r.tobytes()).hexdigest())
"""


def test_compressor_and_reverb_are_bit_identical_in_fresh_processes():
    # Two fresh interpreters (numba loads or compiles its kernel anew) and this one agree bit for bit.
    runs = [subprocess.run([sys.executable, "-c", _DIGEST_SCRIPT], cwd=REPO, capture_output=True, text=True,
                           check=True, timeout=120).stdout.split() for _ in range(2)]
    here = {}
    exec(_DIGEST_SCRIPT.replace("print(", "digests = ("), here)
    assert runs[0] == runs[1] == list(here["digests"])
    assert len(runs[0]) == 3
