"""Piecewise-linear automation envelopes, one value per sample (no zipper noise)."""

from __future__ import annotations

import numpy as np


def envelope(breakpoints, n_frames: int, sample_rate_hz: float) -> np.ndarray:
    """Values at t = n / fs interpolated linearly between `(time_s, value)` breakpoints, held outside."""
    points = np.asarray(breakpoints, dtype=np.float64).reshape(-1, 2)
    if points.shape[0] == 0:
        raise ValueError("breakpoints must not be empty")
    times, values = points[:, 0], points[:, 1]
    if np.any(np.diff(times) < 0):
        raise ValueError(f"breakpoint times must not decrease (got {times.tolist()})")
    return np.interp(np.arange(n_frames) / sample_rate_hz, times, values)
