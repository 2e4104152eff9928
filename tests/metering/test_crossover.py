"""Mono bass: LR4 low-pass + high-pass sum to an allpass; the low band becomes mono, the high band stays."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from mixbuild.stages.dsp.crossover import linkwitz_riley_sos, mono_bass

from .signals import sine


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
@pytest.mark.parametrize("crossover_hz", [60.0, 120.0, 300.0])
def test_lr4_sum_is_allpass(rate, crossover_hz):
    low, high = linkwitz_riley_sos(crossover_hz, rate)
    freqs = np.geomspace(5, 0.49 * rate, 400)
    h_low = signal.sosfreqz(low, worN=freqs, fs=rate)[1]
    h_high = signal.sosfreqz(high, worN=freqs, fs=rate)[1]
    np.testing.assert_allclose(np.abs(h_low + h_high), 1.0, atol=1e-9)
    # each band is -6 dB at the crossover, and the bands are in phase there
    h_low_x = signal.sosfreqz(low, worN=[crossover_hz], fs=rate)[1][0]
    h_high_x = signal.sosfreqz(high, worN=[crossover_hz], fs=rate)[1][0]
    assert 20 * np.log10(abs(h_low_x)) == pytest.approx(-6.02, abs=0.01)
    assert 20 * np.log10(abs(h_high_x)) == pytest.approx(-6.02, abs=0.01)
    assert abs(np.angle(h_low_x / h_high_x)) < 1e-6


@pytest.mark.parametrize("rate, crossover_hz", [(44100, 80.0), (48000, 150.0), (96000, 20000.0)])
def test_lr4_sections_are_scipy_butterworth(rate, crossover_hz):
    # RBJ pass filters at q = 1/sqrt(2) are the prewarped bilinear Butterworth: same coefficients to rounding.
    low, high = linkwitz_riley_sos(crossover_hz, rate)
    np.testing.assert_allclose(low[0], signal.butter(2, crossover_hz, "lowpass", output="sos", fs=rate)[0], atol=1e-12)
    np.testing.assert_allclose(high[0], signal.butter(2, crossover_hz, "highpass", output="sos", fs=rate)[0],
                               atol=1e-12)


def test_out_of_phase_bass_is_removed():
    """L = -R at 40 Hz (a side-only bass): the mono low band cancels it, more than 30 dB down."""
    bass = sine(-6.0, 4.0, freq_hz=40.0, channels=1)[:, 0]
    x = np.stack([bass, -bass], axis=1)
    y = mono_bass(x, 48000, crossover_hz=150.0)
    steady = slice(48000, -48000)
    assert 20 * np.log10(np.std(y[steady]) / np.std(x[steady])) < -30


def test_mono_and_high_content_keep_their_level():
    """In-phase bass and out-of-phase treble pass at the same level (allpass magnitude)."""
    bass = sine(-6.0, 4.0, freq_hz=50.0, channels=1)[:, 0]
    treble = sine(-12.0, 4.0, freq_hz=3000.0, channels=1)[:, 0]
    x = np.stack([bass + treble, bass - treble], axis=1)
    y = mono_bass(x, 48000, crossover_hz=150.0)
    steady = slice(48000, -48000)
    for ch in range(2):
        assert np.std(y[steady, ch]) == pytest.approx(np.std(x[steady, ch]), rel=0.01)
    # the side (L - R) component at 3 kHz survives
    side_in = np.std(x[steady, 0] - x[steady, 1])
    side_out = np.std(y[steady, 0] - y[steady, 1])
    assert side_out == pytest.approx(side_in, rel=0.01)


def test_low_band_is_identical_in_both_channels():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((48000 * 2, 2)) * 0.1
    y = mono_bass(x, 48000, crossover_hz=100.0)
    low, _ = linkwitz_riley_sos(20.0, 48000)  # look far below the crossover
    y_low = signal.sosfilt(low, y, axis=0)
    side = y_low[:, 0] - y_low[:, 1]
    assert np.std(side[4800:]) < 0.01 * np.std(y_low[4800:, 0])


def test_shape_dtype_and_input_untouched():
    x = np.random.default_rng(1).standard_normal((4800, 2)).astype(np.float32)
    x.setflags(write=False)
    before = x.copy()
    y = mono_bass(x, 48000, 120.0)
    assert y.shape == x.shape and y.dtype == np.float64
    np.testing.assert_array_equal(x, before)
    assert mono_bass(np.zeros((0, 2)), 48000, 120.0).shape == (0, 2)


@pytest.mark.parametrize("bad", [0.0, -10.0, 24000.0, 30000.0])
def test_bad_crossover_names_itself(bad):
    with pytest.raises(ValueError, match="crossover_hz"):
        mono_bass(np.zeros((10, 2)), 48000, bad)
