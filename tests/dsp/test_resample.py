"""Sample-rate conversion (soxr VHQ): frequency, amplitude and length are kept."""

from __future__ import annotations

import numpy as np
import pytest

from mixbuild.stages.dsp.resample import resample


def _sine_fit(x: np.ndarray, rate: float, freq_hz: float) -> float:
    """Least-squares amplitude of a sine at freq_hz in x (exact for a pure tone of that frequency)."""
    t = np.arange(x.shape[0]) / rate
    basis = np.stack([np.sin(2 * np.pi * freq_hz * t), np.cos(2 * np.pi * freq_hz * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, x, rcond=None)
    return float(np.hypot(*coef))


@pytest.mark.parametrize("from_hz,to_hz", [(48000, 44100), (44100, 48000), (44100, 96000), (96000, 44100)])
def test_a_1_khz_sine_keeps_frequency_amplitude_and_length(from_hz, to_hz):
    n = from_hz // 2
    amp = 0.5
    x = amp * np.sin(2 * np.pi * 1000 * np.arange(n) / from_hz)
    y = resample(np.stack([x, -x], axis=1), from_hz, to_hz)
    assert abs(y.shape[0] - round(n * to_hz / from_hz)) <= 1
    assert y.dtype == np.float64 and y.shape[1] == 2
    middle = y[y.shape[0] // 4: 3 * y.shape[0] // 4, 0]  # away from the filter's start/end transients
    # Amplitude of a 1 kHz fit at the new rate: within 0.01 dB (VHQ passband ripple is far smaller).
    assert 20 * np.log10(_sine_fit(middle, to_hz, 1000.0) / amp) == pytest.approx(0.0, abs=0.01)
    # Frequency kept: the residual after removing the 1 kHz fit is under -100 dB of the tone.
    t = np.arange(middle.shape[0]) / to_hz
    basis = np.stack([np.sin(2 * np.pi * 1000 * t), np.cos(2 * np.pi * 1000 * t)], axis=1)
    residual = middle - basis @ np.linalg.lstsq(basis, middle, rcond=None)[0]
    assert 20 * np.log10(np.sqrt(np.mean(residual**2)) / (amp / np.sqrt(2))) < -100
    np.testing.assert_array_equal(y[:, 1], -y[:, 0])


def test_equal_rates_are_an_identity_copy():
    x = np.random.default_rng(0).standard_normal((1000, 2))
    x.setflags(write=False)
    y = resample(x, 48000, 48000)
    assert np.array_equal(x, y) and not np.shares_memory(x, y) and y.flags.writeable
    assert resample(x.astype(np.float32), 44100, 44100).dtype == np.float64


def test_read_only_float32_mono_and_empty():
    x = np.random.default_rng(1).standard_normal((4410, 1)).astype(np.float32)
    x.setflags(write=False)
    y = resample(x, 44100, 48000)
    assert y.shape == (4800, 1) and y.dtype == np.float64
    assert resample(np.zeros((0, 2)), 48000, 44100).shape == (0, 2)


def test_bad_rates_raise_naming_the_parameter():
    with pytest.raises(ValueError, match=r"^from_hz: .*\(got 0\)"):
        resample(np.zeros((10, 1)), 0, 48000)
    with pytest.raises(ValueError, match=r"^to_hz: .*\(got -44100\)"):
        resample(np.zeros((10, 1)), 48000, -44100)
