"""RBJ cookbook EQ bands against the cookbook's analog prototypes, measured corners, and stability."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from mixbuild.stages.dsp.checks import MAX_EQ_FREQ_RATIO, Q_BUTTERWORTH
from mixbuild.stages.dsp.eq import KINDS, apply_sos, band_sos

RATES = (44100, 48000, 96000)


def _analog_prototype(kind: str, s: np.ndarray, gain_db: float, q: float) -> np.ndarray:
    """The cookbook's analog H(s) (normalised to a corner at s = j), which its biquads bilinear-map."""
    a = 10 ** (gain_db / 40)
    den = s**2 + s / q + 1
    if kind == "lowpass":
        return 1 / den
    if kind == "highpass":
        return s**2 / den
    if kind == "bandpass":
        return (s / q) / den
    if kind == "notch":
        return (s**2 + 1) / den
    if kind == "peak":
        return (s**2 + s * (a / q) + 1) / (s**2 + s / (a * q) + 1)
    if kind == "low_shelf":
        return a * (s**2 + (np.sqrt(a) / q) * s + a) / (a * s**2 + (np.sqrt(a) / q) * s + 1)
    if kind == "high_shelf":
        return a * (a * s**2 + (np.sqrt(a) / q) * s + 1) / (s**2 + (np.sqrt(a) / q) * s + a)
    raise AssertionError(kind)


def _db(h):
    return 20 * np.log10(np.abs(h))


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("freq_hz,gain_db,q", [(50.0, 6.0, 0.7071), (1000.0, -9.0, 2.0), (15000.0, 12.0, 0.5)])
def test_magnitude_matches_the_cookbook_analog_prototype(kind, rate, freq_hz, gain_db, q):
    # The bilinear transform pre-warped at w0 maps the digital response at w to the analog prototype at
    # Omega = tan(w/2)/tan(w0/2) exactly; 1e-6 dB leaves room only for float64 rounding.
    sos = band_sos(kind, freq_hz, rate, gain_db=gain_db, q=q)
    freqs = np.geomspace(20.0, 0.49 * rate, 400)
    freqs = freqs[np.abs(freqs - freq_hz) > 1e-3 * freq_hz]  # the notch's zero is -inf dB at freq_hz
    _, h = signal.sosfreqz(sos, worN=freqs, fs=rate)
    omega = np.tan(np.pi * freqs / rate) / np.tan(np.pi * freq_hz / rate)
    ref = _analog_prototype(kind, 1j * omega, gain_db, q)
    np.testing.assert_allclose(_db(h), _db(ref), atol=1e-6)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("freq_hz", [30.0, 1000.0, 12000.0])
@pytest.mark.parametrize("gain_db", [-18.0, -3.0, 4.5, 24.0])
def test_gain_at_the_centre_and_the_shelf_corners(rate, freq_hz, gain_db):
    # Cookbook: a peak reaches gain_db at freq_hz, a shelf gain_db/2 at its corner (|H| = A there),
    # and its plateau (DC for the low shelf, Nyquist for the high shelf) is gain_db. 0.01 dB per the brief.
    at = [freq_hz, 0.0, rate / 2]
    _, peak = signal.sosfreqz(band_sos("peak", freq_hz, rate, gain_db=gain_db, q=1.3), worN=at, fs=rate)
    _, low = signal.sosfreqz(band_sos("low_shelf", freq_hz, rate, gain_db=gain_db), worN=at, fs=rate)
    _, high = signal.sosfreqz(band_sos("high_shelf", freq_hz, rate, gain_db=gain_db), worN=at, fs=rate)
    assert _db(peak[0]) == pytest.approx(gain_db, abs=0.01)
    assert _db(low[0]) == pytest.approx(gain_db / 2, abs=0.01)
    assert _db(high[0]) == pytest.approx(gain_db / 2, abs=0.01)
    assert _db(low[1]) == pytest.approx(gain_db, abs=0.01)
    assert _db(high[2]) == pytest.approx(gain_db, abs=0.01)


def _crossing_hz(freqs: np.ndarray, mag_db: np.ndarray, level_db: float) -> float:
    """Frequency where a monotonic magnitude crosses level_db, linear interpolation between bins."""
    i = np.flatnonzero(np.diff(np.sign(mag_db - level_db)))[0]
    f0, f1, m0, m1 = freqs[i], freqs[i + 1], mag_db[i], mag_db[i + 1]
    return f0 + (level_db - m0) * (f1 - f0) / (m1 - m0)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("kind", ["highpass", "lowpass"])
@pytest.mark.parametrize("freq_hz", [35.0, 1000.0, 0.4 * 44100])
def test_minus_3_db_corner_of_12_db_per_octave_pass_filters(kind, rate, freq_hz):
    # |H(w0)| = q for the RBJ pass filters: q = 1/sqrt(2) puts -3.01 dB at freq_hz. Brief: within 1 %.
    sos = band_sos(kind, freq_hz, rate, q=Q_BUTTERWORTH)
    freqs = np.geomspace(freq_hz / 4, min(4 * freq_hz, 0.499 * rate), 4000)
    _, h = signal.sosfreqz(sos, worN=freqs, fs=rate)
    assert _crossing_hz(freqs, _db(h), -3.0103) == pytest.approx(freq_hz, rel=0.01)

    # Measured independently: filter an impulse and read the FFT of the response.
    n = 1 << 18  # bins of fs/2^18 < 0.4 Hz: the 35 Hz corner is resolved to 1 %
    impulse = np.zeros((n, 1))
    impulse[0, 0] = 1.0
    response = np.fft.rfft(apply_sos(impulse, sos)[:, 0])
    bins = np.fft.rfftfreq(n, 1 / rate)
    band = (bins > freq_hz / 4) & (bins < min(4 * freq_hz, 0.499 * rate))
    assert _crossing_hz(bins[band], _db(response[band]), -3.0103) == pytest.approx(freq_hz, rel=0.01)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("kind", ["highpass", "lowpass"])
def test_24_db_per_octave_is_two_sections_minus_6_db_at_the_corner(kind, rate):
    # Two identical Butterworth biquads (Linkwitz-Riley LR4): -6.02 dB at freq_hz, 24 dB/oct asymptote.
    freq_hz = 2000.0 if kind == "highpass" else 100.0  # asymptotes at 125 Hz / 1.6 kHz: far from Nyquist's warp
    sos = band_sos(kind, freq_hz, rate, slope_db_per_oct=24)
    assert sos.shape == (2, 6)
    far = freq_hz / 16 if kind == "highpass" else freq_hz * 16
    _, h = signal.sosfreqz(sos, worN=[freq_hz, far, far * (2 if kind == "highpass" else 0.5)], fs=rate)
    assert _db(h[0]) == pytest.approx(-6.0206, abs=0.01)
    # One octave further from the corner: 24 dB more attenuation (0.3 dB: still slightly off the asymptote).
    assert _db(h[1]) - _db(h[2]) == pytest.approx(-24.0, abs=0.3)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_band_is_stable_up_to_0_45_fs(kind, rate):
    # All poles strictly inside the unit circle, from 10 Hz to just under the 0.45 fs limit.
    for freq_hz in np.geomspace(10.0, MAX_EQ_FREQ_RATIO * rate * 0.9999, 25):
        for q in (0.1, Q_BUTTERWORTH, 10.0):
            for gain_db in (-24.0, 0.0, 24.0):
                sos = band_sos(kind, freq_hz, rate, gain_db=gain_db, q=q, slope_db_per_oct=24)
                poles = np.concatenate([np.roots(section[3:]) for section in sos])
                assert np.all(np.abs(poles) < 1.0), (freq_hz, q, gain_db)


@pytest.mark.parametrize("rate", RATES)
def test_frequency_at_or_above_0_45_fs_raises_naming_the_limit(rate):
    limit = MAX_EQ_FREQ_RATIO * rate
    for bad in (limit, limit + 1.0, rate / 2, 23000.0 if rate == 48000 else rate):
        with pytest.raises(ValueError, match=rf"^freq_hz: must be in \(0, {limit:g}\) \(got"):
            band_sos("peak", bad, rate)


@pytest.mark.parametrize("kwargs,field", [
    ({"freq_hz": 0.0}, "freq_hz"), ({"freq_hz": -5.0}, "freq_hz"), ({"q": 0.0}, "q"), ({"q": -1.0}, "q"),
    ({"kind": "shelf"}, "kind"), ({"slope_db_per_oct": 18}, "slope_db_per_oct"), ({"gain_db": np.nan}, "gain_db"),
    ({"sample_rate_hz": 0}, "sample_rate_hz"),
])
def test_bad_arguments_raise_value_error_naming_the_parameter(kwargs, field):
    args = {"kind": "peak", "freq_hz": 1000.0, "sample_rate_hz": 48000, **kwargs}
    with pytest.raises(ValueError, match=rf"^{field}: .*\(got"):
        band_sos(**args)


@pytest.mark.parametrize("channels", [1, 2, 6])
def test_apply_sos_filters_every_channel_in_float64(channels):
    rate = 48000
    sos = np.concatenate([band_sos("highpass", 30, rate), band_sos("peak", 2000, rate, gain_db=6, q=2)])
    x = np.random.default_rng(1).standard_normal((4800, channels)).astype(np.float32)
    x.setflags(write=False)
    y = apply_sos(x, sos)
    assert y.dtype == np.float64 and y.shape == x.shape
    for ch in range(channels):  # reference: scipy on that channel alone, float64
        np.testing.assert_array_equal(y[:, ch], signal.sosfilt(sos, x[:, ch].astype(np.float64)))


def test_apply_sos_rejects_nan_and_bad_sections():
    sos = band_sos("lowpass", 1000, 48000)
    with pytest.raises(ValueError, match="NaN or Inf"):
        apply_sos(np.full((10, 2), np.nan), sos)
    with pytest.raises(ValueError, match=r"^sos: must have shape \(n_sections, 6\)"):
        apply_sos(np.zeros((10, 2)), sos[:, :5])
