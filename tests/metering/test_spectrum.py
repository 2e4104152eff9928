"""1/3-octave long-term spectrum: IEC 61260 centres, calibrated levels, band limits."""

from __future__ import annotations

import numpy as np
import pytest

from mixbuild.stages.dsp.spectrum import NOMINAL_CENTERS_HZ, third_octave_levels_db

from .signals import sine


def test_centres_25hz_to_16khz_at_48k():
    centres, levels = third_octave_levels_db(sine(-20.0, 2.0), 48000)
    np.testing.assert_array_equal(centres, NOMINAL_CENTERS_HZ)
    assert centres[0] == 25 and centres[-1] == 16000 and centres.size == 29
    assert levels.shape == centres.shape


@pytest.mark.parametrize("rate, top", [(32000, 12500), (44100, 16000), (22050, 8000)])
def test_bands_restricted_below_0_45_fs(rate, top):
    centres, _ = third_octave_levels_db(sine(-20.0, 1.0, rate), rate)
    assert centres[-1] == top
    assert np.all(centres * 10 ** 0.05 < 0.45 * rate)


@pytest.mark.parametrize("freq_hz", [100.0, 1000.0, 6300.0])
def test_sine_level_lands_in_its_band(freq_hz):
    """A -20 dBFS sine has a mean square of 0.005: -23.01 dB in its band, 40 dB less two bands away."""
    centres, levels = third_octave_levels_db(sine(-20.0, 4.0, freq_hz=freq_hz), 48000)
    band = int(np.argmin(np.abs(centres - freq_hz)))
    assert levels[band] == pytest.approx(-23.01, abs=0.1)
    assert levels[band + 2] < levels[band] - 40 and levels[band - 2] < levels[band] - 40


def test_white_noise_rises_10_db_per_decade():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((48000 * 10, 2)) * 0.1
    centres, levels = third_octave_levels_db(x, 48000)
    use = centres >= 100
    slope = np.polyfit(np.log10(centres[use]), levels[use], 1)[0]
    assert slope == pytest.approx(10.0, abs=0.3)
    # total power: the bands together hold nearly all of it (0.01 per channel, 25 Hz - 17.8 kHz of 24 kHz)
    total = 10 * np.log10(np.sum(10 ** (levels / 10)))
    assert total == pytest.approx(10 * np.log10(0.01 * 17800 / 24000), abs=0.2)


def test_channels_are_averaged():
    left = sine(-20.0, 2.0, channels=1)
    x = np.concatenate([left, np.zeros_like(left)], axis=1)
    _, levels = third_octave_levels_db(x, 48000)
    assert levels.max() == pytest.approx(-23.01 - 3.01, abs=0.1)


def test_silence_is_minus_infinity():
    _, levels = third_octave_levels_db(np.zeros((48000, 2)), 48000)
    assert np.all(levels == -np.inf)


@pytest.mark.parametrize("frames, nperseg", [(48000, 4096), (50001, 8192), (8191, 8191)])
def test_welch_psd_matches_scipy_welch(frames, nperseg):
    # Same estimator, different FFT implementation (numpy's pocketfft vs scipy.fft): equal to float rounding.
    from scipy import signal

    from mixbuild.stages.dsp.spectrum import welch_psd

    x = np.random.default_rng(3).standard_normal((frames, 2)).astype(np.float32)
    freqs, psd = welch_psd(x, 48000, nperseg)
    ref_freqs, ref = signal.welch(x.astype(np.float64), fs=48000, window="hann", nperseg=nperseg, axis=0)
    np.testing.assert_allclose(freqs, ref_freqs, rtol=1e-12)
    np.testing.assert_allclose(psd, ref.mean(axis=1), rtol=1e-9, atol=1e-18)
