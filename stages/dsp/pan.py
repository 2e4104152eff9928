"""Constant-power pan (-3 dB at centre) for mono, balance for stereo, mid/side width, polarity."""

from __future__ import annotations

import numpy as np

SQRT2 = np.sqrt(2.0)


def _check_pan(pan) -> np.ndarray:
    pan = np.asarray(pan, dtype=np.float64)
    if np.any(np.abs(pan) > 1):
        raise ValueError(f"pan must be in [-1, 1] (got {pan.min() if pan.min() < -1 else pan.max():g})")
    return pan


def pan_gains(pan):
    """(left, right) gains of the sine/cosine law: theta = (pan + 1)·pi/4, cos and sin of it."""
    theta = (_check_pan(pan) + 1.0) * np.pi / 4
    return np.cos(theta), np.sin(theta)


def pan_to_stereo(audio: np.ndarray, pan) -> np.ndarray:
    """Mono → constant-power panned stereo; stereo → balance (unity at centre, far side to silence).

    `pan` is a number or a per-sample array of shape (frames,).
    """
    x = np.asarray(audio, dtype=np.float64)
    channels = x.shape[1]
    if channels not in (1, 2):
        raise ValueError(f"audio must have 1 or 2 channels (got {channels})")
    left, right = pan_gains(pan)
    if channels == 2:  # balance: sqrt(2)·cos/sin, capped at unity, so the centre is 0 dB on both sides
        left, right = np.minimum(1.0, SQRT2 * left), np.minimum(1.0, SQRT2 * right)
        return np.stack([x[:, 0] * left, x[:, 1] * right], axis=1)
    return np.stack([x[:, 0] * left, x[:, 0] * right], axis=1)


def stereo_width(audio: np.ndarray, width: float) -> np.ndarray:
    """Scale the side signal of stereo audio: 0 mono, 1 unchanged, 2 twice as wide."""
    if not 0 <= width <= 2:
        raise ValueError(f"width must be in [0, 2] (got {width})")
    x = np.asarray(audio, dtype=np.float64)
    if width == 1.0:
        return x.copy()
    mid, side = (x[:, 0] + x[:, 1]) / 2, (x[:, 0] - x[:, 1]) / 2 * width
    return np.stack([mid + side, mid - side], axis=1)


def invert_polarity(audio: np.ndarray) -> np.ndarray:
    """The signal with its polarity inverted."""
    return -np.asarray(audio, dtype=np.float64)
