"""RBJ Audio EQ Cookbook biquads as second-order sections, run in float64 with `sosfilt`."""

from __future__ import annotations

import numpy as np
from scipy import signal

MAX_FREQ_RATIO = 0.45
"""Bands must sit below 0.45 x the sample rate: above that the bilinear warp distorts them."""

BUTTERWORTH4_Q = (0.5411961001461969, 1.3065629648763766)
"""Q of the two sections of a 4th-order Butterworth: 24 dB/oct, -3 dB at the corner."""

KINDS = ("highpass", "lowpass", "low_shelf", "high_shelf", "peak", "notch", "bandpass")


def _check(kind: str, freq_hz: float, sample_rate_hz: float, q: float, slope_db_per_oct: int) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)} (got {kind!r})")
    limit = MAX_FREQ_RATIO * sample_rate_hz
    if not 0 < freq_hz < limit:
        raise ValueError(f"freq_hz must be > 0 and < 0.45*sample_rate_hz = {limit:g} (got {freq_hz:g})")
    if not q > 0:
        raise ValueError(f"q must be > 0 (got {q})")
    if slope_db_per_oct not in (12, 24):
        raise ValueError(f"slope_db_per_oct must be 12 or 24 (got {slope_db_per_oct})")


def rbj_biquad(kind: str, freq_hz: float, sample_rate_hz: float, gain_db: float, q: float) -> np.ndarray:
    """One RBJ cookbook biquad as a normalised SOS row [b0, b1, b2, 1, a1, a2]."""
    w0 = 2 * np.pi * freq_hz / sample_rate_hz
    cos_w, alpha = np.cos(w0), np.sin(w0) / (2 * q)
    a = 10 ** (gain_db / 40)
    if kind == "lowpass":
        b, den = [(1 - cos_w) / 2, 1 - cos_w, (1 - cos_w) / 2], [1 + alpha, -2 * cos_w, 1 - alpha]
    elif kind == "highpass":
        b, den = [(1 + cos_w) / 2, -(1 + cos_w), (1 + cos_w) / 2], [1 + alpha, -2 * cos_w, 1 - alpha]
    elif kind == "bandpass":  # constant 0 dB peak gain
        b, den = [alpha, 0.0, -alpha], [1 + alpha, -2 * cos_w, 1 - alpha]
    elif kind == "notch":
        b, den = [1.0, -2 * cos_w, 1.0], [1 + alpha, -2 * cos_w, 1 - alpha]
    elif kind == "peak":
        b, den = [1 + alpha * a, -2 * cos_w, 1 - alpha * a], [1 + alpha / a, -2 * cos_w, 1 - alpha / a]
    else:
        s = 2 * np.sqrt(a) * alpha
        sign = 1 if kind == "low_shelf" else -1  # the high shelf mirrors the low shelf's cos terms
        b = [a * ((a + 1) - sign * (a - 1) * cos_w + s), sign * 2 * a * ((a - 1) - sign * (a + 1) * cos_w),
             a * ((a + 1) - sign * (a - 1) * cos_w - s)]
        den = [(a + 1) + sign * (a - 1) * cos_w + s, -sign * 2 * ((a - 1) + sign * (a + 1) * cos_w),
               (a + 1) + sign * (a - 1) * cos_w - s]
    return np.concatenate([np.asarray(b) / den[0], [1.0, den[1] / den[0], den[2] / den[0]]])


def band_sos(kind: str, freq_hz: float, sample_rate_hz: float, gain_db: float = 0.0,
             q: float = 0.7071067811865476, slope_db_per_oct: int = 12) -> np.ndarray:
    """SOS (n, 6) of one EQ band. Pass filters at 24 dB/oct are a 4th-order Butterworth (q unused)."""
    _check(kind, freq_hz, sample_rate_hz, q, slope_db_per_oct)
    if kind in ("highpass", "lowpass") and slope_db_per_oct == 24:
        return np.stack([rbj_biquad(kind, freq_hz, sample_rate_hz, 0.0, bq) for bq in BUTTERWORTH4_Q])
    return rbj_biquad(kind, freq_hz, sample_rate_hz, gain_db, q)[None, :]


def apply_sos(audio: np.ndarray, sos: np.ndarray) -> np.ndarray:
    """Filter `(frames, channels)` audio along time in float64; returns a new array."""
    return signal.sosfilt(sos, np.asarray(audio, dtype=np.float64), axis=0)
