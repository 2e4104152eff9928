"""Parametric EQ bands: RBJ Audio EQ Cookbook biquads (R. Bristow-Johnson) as second-order sections.

Coefficients are computed and applied in float64 (a float32 biquad at 30 Hz is off by -63 dB).
"""

from __future__ import annotations

import math

import numpy as np
from mixbuild.stages.dsp.checks import MAX_EQ_FREQ_RATIO, Q_BUTTERWORTH, check_audio, check_number, check_sample_rate
from mixbuild.stages.dsp.iir import sosfilt

KINDS = ("highpass", "lowpass", "low_shelf", "high_shelf", "peak", "notch", "bandpass")
SLOPES_DB_PER_OCT = (12, 24)


def _check_band(kind: str, freq_hz: float, sample_rate_hz: float, gain_db: float, q: float,
                slope_db_per_oct: int) -> tuple[float, float, float, float]:
    if kind not in KINDS:
        raise ValueError(f"kind: must be one of {', '.join(KINDS)} (got {kind!r})")
    rate = check_sample_rate(sample_rate_hz)
    freq = check_number(freq_hz, "freq_hz", gt=0.0, lt=MAX_EQ_FREQ_RATIO * rate)
    gain = check_number(gain_db, "gain_db")
    quality = check_number(q, "q", gt=0.0)
    if slope_db_per_oct not in SLOPES_DB_PER_OCT:
        raise ValueError(f"slope_db_per_oct: must be 12 or 24 (got {slope_db_per_oct!r})")
    return freq, rate, gain, quality


def rbj_biquad(kind: str, freq_hz: float, sample_rate_hz: float, gain_db: float, q: float) -> np.ndarray:
    """One RBJ cookbook biquad, normalised by a0, as an SOS row [b0, b1, b2, 1, a1, a2] (float64).

    Shelves use q directly in alpha = sin(w0)/(2q); q = 1/sqrt(2) is the cookbook's shelf slope S = 1.
    """
    w0 = 2.0 * math.pi * freq_hz / sample_rate_hz
    cos_w = math.cos(w0)
    one_minus_cos = 2.0 * math.sin(w0 / 2.0) ** 2  # = 1 - cos(w0) without cancellation at low freq_hz
    alpha = math.sin(w0) / (2.0 * q)
    amp = 10.0 ** (gain_db / 40.0)  # cookbook A: sqrt of the linear plateau/peak gain
    if kind == "lowpass":
        b = (one_minus_cos / 2.0, one_minus_cos, one_minus_cos / 2.0)
        a = (1.0 + alpha, -2.0 * cos_w, 1.0 - alpha)
    elif kind == "highpass":
        b = ((1.0 + cos_w) / 2.0, -(1.0 + cos_w), (1.0 + cos_w) / 2.0)
        a = (1.0 + alpha, -2.0 * cos_w, 1.0 - alpha)
    elif kind == "bandpass":  # constant 0 dB peak gain
        b = (alpha, 0.0, -alpha)
        a = (1.0 + alpha, -2.0 * cos_w, 1.0 - alpha)
    elif kind == "notch":
        b = (1.0, -2.0 * cos_w, 1.0)
        a = (1.0 + alpha, -2.0 * cos_w, 1.0 - alpha)
    elif kind == "peak":
        b = (1.0 + alpha * amp, -2.0 * cos_w, 1.0 - alpha * amp)
        a = (1.0 + alpha / amp, -2.0 * cos_w, 1.0 - alpha / amp)
    elif kind == "low_shelf":
        s = 2.0 * math.sqrt(amp) * alpha
        b = (amp * ((amp + 1.0) - (amp - 1.0) * cos_w + s),
             2.0 * amp * ((amp - 1.0) - (amp + 1.0) * cos_w),
             amp * ((amp + 1.0) - (amp - 1.0) * cos_w - s))
        a = ((amp + 1.0) + (amp - 1.0) * cos_w + s,
             -2.0 * ((amp - 1.0) + (amp + 1.0) * cos_w),
             (amp + 1.0) + (amp - 1.0) * cos_w - s)
    elif kind == "high_shelf":
        s = 2.0 * math.sqrt(amp) * alpha
        b = (amp * ((amp + 1.0) + (amp - 1.0) * cos_w + s),
             -2.0 * amp * ((amp - 1.0) + (amp + 1.0) * cos_w),
             amp * ((amp + 1.0) + (amp - 1.0) * cos_w - s))
        a = ((amp + 1.0) - (amp - 1.0) * cos_w + s,
             2.0 * ((amp - 1.0) - (amp + 1.0) * cos_w),
             (amp + 1.0) - (amp - 1.0) * cos_w - s)
    else:
        raise ValueError(f"kind: must be one of {', '.join(KINDS)} (got {kind!r})")
    a0 = a[0]
    return np.array([b[0] / a0, b[1] / a0, b[2] / a0, 1.0, a[1] / a0, a[2] / a0], dtype=np.float64)


def band_sos(kind: str, freq_hz: float, sample_rate_hz: float, gain_db: float = 0.0,
             q: float = Q_BUTTERWORTH, slope_db_per_oct: int = 12) -> np.ndarray:
    """SOS array (n_sections, 6) of one EQ band (RBJ cookbook); gain_db is used by peak and shelves only.

    slope_db_per_oct applies to the pass filters only: 12 is one biquad (|H(freq_hz)| = q, so -3.01 dB
    for q = 0.7071, Butterworth); 24 is that biquad twice, a Linkwitz-Riley LR4 for q = 0.7071: -6.02 dB
    at freq_hz (not -3 dB), flat sum with the matching opposite filter.
    """
    freq, rate, gain, quality = _check_band(kind, freq_hz, sample_rate_hz, gain_db, q, slope_db_per_oct)
    row = rbj_biquad(kind, freq, rate, gain, quality)
    if kind in ("highpass", "lowpass") and slope_db_per_oct == 24:
        return np.stack([row, row])
    return row[None, :]


def dc_block_sos(corner_hz: float, sample_rate_hz: float) -> np.ndarray:
    """A first-order Butterworth high-pass (bilinear, pre-warped) as one SOS row: exactly zero gain at DC,
    |H(corner_hz)| = 1/sqrt(2) (-3.01 dB), -6 dB/octave below: removes a DC offset and leaves music's lows
    alone (-0.26 dB at 20 Hz for a 5 Hz corner)."""
    rate = check_sample_rate(sample_rate_hz)
    corner = check_number(corner_hz, "dc_filter_hz", gt=0.0, lt=MAX_EQ_FREQ_RATIO * rate)
    k = math.tan(math.pi * corner / rate)
    b0 = 1.0 / (1.0 + k)
    return np.array([[b0, -b0, 0.0, 1.0, (k - 1.0) / (k + 1.0), 0.0]])


def apply_sos(audio: np.ndarray, sos: np.ndarray) -> np.ndarray:
    """Filter (frames, channels) audio through SOS sections along time, all channels, in float64; a new array."""
    check_audio(audio)
    sections = np.asarray(sos, dtype=np.float64)
    if sections.ndim != 2 or sections.shape[1] != 6:
        raise ValueError(f"sos: must have shape (n_sections, 6) (got shape {sections.shape})")
    if sections.shape[0] == 0 or audio.shape[0] == 0:
        return np.array(audio, dtype=np.float64, copy=True)
    return sosfilt(sections, audio)
