"""Automation: piecewise-linear breakpoint envelopes evaluated at every sample (so no zipper noise).

Gain automation is interpolated in dB and converted to linear per sample by the caller (db_to_gain).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from mixbuild.stages.dsp.checks import check_number, check_sample_rate


def envelope(breakpoints: ArrayLike, n_frames: int, sample_rate_hz: float) -> np.ndarray:
    """Envelope of shape (n_frames,) at t = n / sample_rate_hz, linear between (time_s, value) breakpoints.

    Held at the first value before the first breakpoint and at the last after the last one; values at
    breakpoint times are exact. Equal times make a step: the later breakpoint holds from that time on.
    """
    return envelope_range(breakpoints, 0, n_frames, sample_rate_hz)


def envelope_range(breakpoints: ArrayLike, first_frame: int, n_frames: int, sample_rate_hz: float) -> np.ndarray:
    """`envelope(breakpoints, first_frame + n_frames, rate)[first_frame:]`, value for value, without the
    frames before: a block of a stream costs its own length."""
    rate = check_sample_rate(sample_rate_hz)
    first = check_number(first_frame, "first_frame", ge=0, integer=True)
    frames = check_number(n_frames, "n_frames", ge=0, integer=True)
    try:
        points = np.asarray(breakpoints, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"breakpoints: must be a sequence of (time_s, value) pairs (got {breakpoints!r})") from None
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] == 0:
        raise ValueError(f"breakpoints: must be a non-empty sequence of (time_s, value) pairs (got shape {points.shape})")
    if not np.isfinite(points).all():
        raise ValueError(f"breakpoints: must be finite (got {points.tolist()})")
    times, values = points[:, 0], points[:, 1]
    if np.any(np.diff(times) < 0):
        raise ValueError(f"breakpoints: times must not decrease (got {times.tolist()})")

    t = np.arange(first, first + frames, dtype=np.float64) / rate
    if times.shape[0] == 1:
        return np.full(t.shape, values[0])
    # Segment i spans [times[i], times[i+1]); side="right" makes the later of equal times win.
    seg = np.searchsorted(times, t, side="right") - 1
    np.clip(seg, 0, times.shape[0] - 2, out=seg)
    t0, t1 = times[seg], times[seg + 1]
    v0, v1 = values[seg], values[seg + 1]
    span = t1 - t0
    frac = np.divide(t - t0, span, out=np.zeros_like(t), where=span > 0)
    np.clip(frac, 0.0, 1.0, out=frac)
    out = v0 * (1.0 - frac) + v1 * frac  # exact at both ends of a segment (frac 0 or 1)
    out[t < times[0]] = values[0]
    out[t >= times[-1]] = values[-1]
    return out
