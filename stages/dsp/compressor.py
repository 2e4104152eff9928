"""Feed-forward log-domain compressor (Giannoulis, Massberg & Reiss 2012, JAES 60(6)).

Stereo-linked peak detector, quadratic soft knee (eq. 4), smooth branching attack/release on the
gain reduction in dB (eq. 17); the recursion is compiled with numba, everything else is numpy.
Time constants: attack_ms / release_ms is the time to cover 1 - 1/e (63 %) of a step.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy import signal

FLOOR_DB = -200.0


def static_gain_db(level_db, threshold_db: float, ratio: float, knee_db: float):
    """Gain reduction in dB (<= 0) of the static curve at input `level_db` (eq. 4)."""
    x = np.asarray(level_db, dtype=np.float64)
    over = x - threshold_db
    slope = 1.0 / ratio - 1.0
    hard = np.where(over > 0, slope * over, 0.0)
    if knee_db <= 0:
        return hard
    in_knee = np.abs(over) <= knee_db / 2
    return np.where(in_knee, slope * (over + knee_db / 2) ** 2 / (2 * knee_db), hard)


@njit(cache=True)
def _ballistics(target_db, attack_coef, release_coef):
    out = np.empty_like(target_db)
    state = 0.0
    for n in range(target_db.shape[0]):
        x = target_db[n]
        coef = attack_coef if x < state else release_coef
        state = coef * state + (1.0 - coef) * x
        out[n] = state
    return out


def time_coefficient(time_ms: float, sample_rate_hz: float) -> float:
    """One-pole coefficient reaching 1 - 1/e of a step in `time_ms`."""
    return float(np.exp(-1.0 / (time_ms * 1e-3 * sample_rate_hz)))


def compress(audio: np.ndarray, sample_rate_hz: float, threshold_db: float, ratio: float, knee_db: float = 6.0,
             attack_ms: float = 10.0, release_ms: float = 100.0, makeup_db: float = 0.0,
             sidechain_highpass_hz: float | None = None) -> np.ndarray:
    """Compress `(frames, channels)` audio with one gain for all channels; returns a new array."""
    if ratio < 1:
        raise ValueError(f"ratio must be >= 1 (got {ratio})")
    if attack_ms <= 0 or release_ms <= 0:
        raise ValueError(f"attack_ms and release_ms must be > 0 (got {attack_ms}, {release_ms})")
    x = np.asarray(audio, dtype=np.float64)
    detector = x
    if sidechain_highpass_hz:
        sos = signal.butter(2, sidechain_highpass_hz, "highpass", fs=sample_rate_hz, output="sos")
        detector = signal.sosfilt(sos, x, axis=0)
    peak = np.max(np.abs(detector), axis=1)
    level_db = 20.0 * np.log10(np.maximum(peak, 1e-10))
    target = static_gain_db(level_db, threshold_db, ratio, knee_db)
    smoothed = _ballistics(target, time_coefficient(attack_ms, sample_rate_hz),
                           time_coefficient(release_ms, sample_rate_hz))
    gain = 10.0 ** ((smoothed + makeup_db) / 20.0)
    return x * gain[:, None]
