"""True peak (BS.1770-4 Annex 2): oversampling factors, interpolator accuracy, envelope, edges."""

from __future__ import annotations

import numpy as np
import pytest

from mixbuild.stages.dsp.truepeak import oversample_factor, sample_peak_dbfs, true_peak_dbtp, true_peak_envelope

from .signals import music_like, sine, with_fades


@pytest.mark.parametrize(
    "rate, factor",
    [(22050, 8), (24000, 8), (32000, 8), (44100, 4), (48000, 4), (88200, 2), (96000, 2), (176400, 1), (192000, 1)],
)
def test_oversample_factor(rate, factor):
    assert oversample_factor(rate) == factor
    assert rate * factor >= 176400


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
@pytest.mark.parametrize("freq_fraction", [0.02, 0.1, 0.2, 0.3, 0.4, 0.45])
@pytest.mark.parametrize("phase_deg", [0.0, 33.0, 45.0, 90.0])
def test_interpolator_is_exact_to_0_02_db_up_to_0_45_fs(rate, freq_fraction, phase_deg):
    """The interpolated points equal the sine's analytic values on the oversampled grid (within 0.02 dB);
    the grid itself may miss the crest by up to 0.7 dB near fs/2, as BS.1770-4 Annex 2 allows."""
    freq_hz = freq_fraction * rate
    x = with_fades(sine(-6.0, 0.5, rate, freq_hz=freq_hz, phase_deg=phase_deg), int(0.01 * rate))
    factor = oversample_factor(rate)
    grid = np.arange(int(0.1 * rate), int(0.4 * rate), 1.0 / factor)  # inside the steady part
    on_grid = 10 ** (-6.0 / 20) * np.abs(np.sin(2 * np.pi * freq_hz * grid / rate + np.deg2rad(phase_deg))).max()
    measured = true_peak_dbtp(x, rate)
    assert measured == pytest.approx(20 * np.log10(on_grid), abs=0.02)
    assert -6.0 - 0.7 <= measured <= -6.0 + 0.02


def test_true_peak_at_least_sample_peak():
    x = music_like(2.0)
    assert true_peak_dbtp(x, 48000) >= sample_peak_dbfs(x)


def test_envelope_shape_and_maximum():
    x = music_like(2.0)
    env = true_peak_envelope(x, 48000)
    assert env.shape == (x.shape[0],)
    assert 20 * np.log10(env.max()) == pytest.approx(true_peak_dbtp(x, 48000), abs=1e-12)
    # phase 0 of the interpolator is the samples themselves: the envelope bounds every |sample|
    assert np.all(env >= np.abs(x).max(axis=1))


def test_envelope_locates_an_inter_sample_peak():
    """A band-limited pulse peaking between frames 24000 and 24001 lights up frame 24000."""
    n = np.arange(48000) - 24000.5
    pulse = (np.sinc(0.8 * n) * np.where(np.abs(n) < 400, np.cos(np.pi * n / 800) ** 2, 0.0))[:, None]
    env = true_peak_envelope(pulse, 48000)
    assert int(np.argmax(env)) == 24000
    assert env.max() == pytest.approx(1.0, abs=0.01)
    assert np.abs(pulse).max() < 0.95


def test_block_boundaries_do_not_matter():
    """The FFT blocks overlap by the interpolator length: a peak on a block boundary reads the same."""
    x = music_like(3.0)
    step = (1 << 13) - 64
    for shift in (step - 3, step, step + 2):
        y = np.zeros_like(x)
        y[shift:] = x[: x.shape[0] - shift]
        assert true_peak_dbtp(y, 48000) == pytest.approx(true_peak_dbtp(x, 48000), abs=1e-9)


def test_channels_are_maximised():
    x = np.zeros((48000, 2))
    x[:, 1] = with_fades(sine(-3.0, 1.0, channels=1), 480)[:, 0]
    assert true_peak_dbtp(x, 48000) == pytest.approx(-3.0, abs=0.05)
    assert sample_peak_dbfs(x) == pytest.approx(-3.0, abs=0.01)


def test_silence_and_empty():
    assert true_peak_dbtp(np.zeros((4800, 2)), 48000) == float("-inf")
    assert sample_peak_dbfs(np.zeros((4800, 2))) == float("-inf")
    assert true_peak_dbtp(np.zeros((0, 2)), 48000) == float("-inf")
    assert sample_peak_dbfs(np.zeros((0, 1))) == float("-inf")
    assert true_peak_envelope(np.zeros((0, 2)), 48000).shape == (0,)


def test_high_rates_use_the_samples():
    x = sine(-1.0, 0.1, 192000, freq_hz=1000.0)
    assert true_peak_dbtp(x, 192000) == pytest.approx(sample_peak_dbfs(x), abs=1e-12)


def test_non_finite_raises():
    x = sine(-6.0, 0.1)
    x[10, 0] = np.nan
    with pytest.raises(ValueError, match="audio contains NaN or Inf samples"):
        true_peak_dbtp(x, 48000)
    with pytest.raises(ValueError, match="audio contains NaN or Inf samples"):
        sample_peak_dbfs(x)


def test_input_untouched_and_float32_accepted():
    x = music_like(1.0).astype(np.float32)
    x.setflags(write=False)
    before = x.copy()
    assert np.isfinite(true_peak_dbtp(x, 48000))
    np.testing.assert_array_equal(x, before)


def test_integer_audio_is_rejected():
    with pytest.raises(ValueError, match="float"):
        true_peak_dbtp(np.zeros((10, 2), dtype=np.int16), 48000)
