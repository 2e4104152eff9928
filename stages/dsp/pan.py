"""Stereo placement: constant-power pan of mono, balance of stereo, mid/side width, polarity inversion.

Pan law: sine/cosine, theta = (pan + 1) * pi/4, left = cos(theta), right = sin(theta): left^2 + right^2 = 1
at every position, -3.01 dB on both sides at the centre (the usual constant-power law of mixing desks).
"""

from __future__ import annotations

import math

import numpy as np

from mixbuild.stages.dsp.checks import check_audio, check_number

_SQRT2 = math.sqrt(2.0)


def _check_pan(pan: float | np.ndarray) -> np.ndarray:
    values = np.asarray(pan, dtype=np.float64)
    if values.ndim > 1:
        raise ValueError(f"pan: must be a number or an array of shape (frames,) (got shape {values.shape})")
    if values.size and not (np.all(values >= -1.0) and np.all(values <= 1.0)):
        bad = values[~((values >= -1.0) & (values <= 1.0))].flat[0]
        raise ValueError(f"pan: must be in [-1, 1] (got {bad!r})")
    return values


def _check_channels(audio: np.ndarray, allowed: tuple[int, ...]) -> int:
    check_audio(audio)
    channels = audio.shape[1]
    if channels not in allowed:
        raise ValueError(f"audio: must have {' or '.join(map(str, allowed))} channels (got {channels} channels)")
    return channels


def pan_gains(pan: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left_gain, right_gain) of the sine/cosine constant-power law for pan in [-1 (left), 1 (right)].

    Works element-wise on arrays (per-sample automation); -3.01 dB each at pan = 0.
    """
    values = _check_pan(pan)
    # sin(theta) written as cos((1 - pan) pi/4): mirror pans get mirrored gains bit for bit, equal at 0.
    return np.cos((1.0 + values) * (math.pi / 4.0)), np.cos((1.0 - values) * (math.pi / 4.0))


def pan_to_stereo(audio: np.ndarray, pan: float | np.ndarray) -> np.ndarray:
    """Place audio in stereo: a new (frames, 2) float64 array; pan is a number or a (frames,) array.

    Mono (1 channel): constant-power pan (pan_gains). Stereo: balance, the same sin/cos law scaled by
    sqrt(2) and capped at 1, so the centre is 0 dB on both channels and pan = +1 silences the left
    (pan = +0.5: left -5.33 dB, right 0 dB).
    """
    channels = _check_channels(audio, (1, 2))
    values = _check_pan(pan)
    frames = audio.shape[0]
    if values.ndim == 1 and values.shape[0] != frames:
        raise ValueError(f"pan: per-sample array must have shape ({frames},) (got shape {values.shape})")
    left, right = pan_gains(values)
    out = np.empty((frames, 2), dtype=np.float64)
    if channels == 1:
        np.multiply(audio[:, 0], left, out=out[:, 0])
        np.multiply(audio[:, 0], right, out=out[:, 1])
        return out
    left = np.minimum(_SQRT2 * left, 1.0)
    right = np.minimum(_SQRT2 * right, 1.0)
    np.multiply(audio[:, 0], left, out=out[:, 0])
    np.multiply(audio[:, 1], right, out=out[:, 1])
    return out


def mono_placement(pan: float, width: float) -> np.ndarray:
    """(left, right) gains that place a mono signal as `pan_to_stereo` then `stereo_width` do: the pan law's
    gains, then the width's side scaling (a panned mono signal has a side), as two numbers, float64."""
    left, right = (float(g) for g in pan_gains(check_number(pan, "pan", ge=-1.0, le=1.0)))
    w = check_number(width, "width", ge=0.0, le=2.0)
    if w == 1.0:
        return np.array([left, right])
    same, cross = 0.5 * (1.0 + w), 0.5 * (1.0 - w)
    return np.array([left * same + cross * right, right * same + cross * left])


def stereo_width(audio: np.ndarray, width: float) -> np.ndarray:
    """Scale the side (L-R)/2 of stereo audio by width in [0, 2] (0 mono, 1 unchanged, 2 twice the side).

    Written as L' = L(1+w)/2 + R(1-w)/2 so width = 1 returns the input values exactly; mono input is
    returned unchanged (it has no side). A new float64 array.
    """
    channels = _check_channels(audio, (1, 2))
    w = check_number(width, "width", ge=0.0, le=2.0)
    if channels == 1 or w == 1.0:
        return np.array(audio, dtype=np.float64, copy=True)
    same, cross = 0.5 * (1.0 + w), 0.5 * (1.0 - w)
    left = audio[:, 0].astype(np.float64)
    right = audio[:, 1].astype(np.float64)
    out = np.empty((audio.shape[0], 2), dtype=np.float64)
    np.multiply(left, same, out=out[:, 0])
    out[:, 0] += cross * right
    np.multiply(right, same, out=out[:, 1])
    out[:, 1] += cross * left
    return out


def invert_polarity(audio: np.ndarray) -> np.ndarray:
    """The audio multiplied by -1 (any channel count): a new float64 array."""
    check_audio(audio)
    return np.negative(audio, dtype=np.float64)
