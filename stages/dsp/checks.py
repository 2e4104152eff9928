"""Argument checks every DSP primitive shares, and the limits the spec, the engine and the kernels agree on.

Imports numpy only, so that light modules (params, stem) can take these limits without loading a kernel.
"""

from __future__ import annotations

import math

import numpy as np

#: Sample rates the kernels accept, in Hz (sources, render and delivery rates alike).
MIN_SAMPLE_RATE_HZ = 8_000
MAX_SAMPLE_RATE_HZ = 768_000
#: EQ bands sit below this fraction of the render rate: above it the bilinear warp squeezes them into Nyquist.
MAX_EQ_FREQ_RATIO = 0.45
#: The Butterworth Q, 1/sqrt(2), written sqrt(0.5): that rounds to 0.7071067811865476, the EQ default.
Q_BUTTERWORTH = math.sqrt(0.5)


def check_audio(audio: np.ndarray, name: str = "audio") -> np.ndarray:
    """Validate a (frames, channels) array of finite samples; return it unchanged.

    Raises ValueError naming the parameter for a wrong shape and
    ValueError("audio contains NaN or Inf samples") for non-finite samples.
    """
    if not isinstance(audio, np.ndarray):
        raise ValueError(f"{name}: must be a numpy array of shape (frames, channels) (got {type(audio).__name__})")
    if audio.ndim != 2 or audio.shape[1] < 1:
        raise ValueError(f"{name}: must have shape (frames, channels) with >= 1 channel (got shape {audio.shape})")
    if not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"{name}: must be a float array with full scale at 1.0 (got dtype {audio.dtype})")
    if audio.size:
        # One pass without a boolean temporary; confirm exactly if the sum is not finite.
        if not np.isfinite(audio.sum(dtype=np.float64)) and not np.isfinite(audio).all():
            raise ValueError("audio contains NaN or Inf samples")
    return audio


def check_sample_rate(sample_rate_hz: float) -> float:
    """Validate a sample rate in Hz; return it as float."""
    try:
        rate = float(sample_rate_hz)
    except (TypeError, ValueError):
        raise ValueError(f"sample_rate_hz: must be a number (got {sample_rate_hz!r})") from None
    if not (MIN_SAMPLE_RATE_HZ <= rate <= MAX_SAMPLE_RATE_HZ):
        raise ValueError(
            f"sample_rate_hz: must be in [{MIN_SAMPLE_RATE_HZ:g}, {MAX_SAMPLE_RATE_HZ:g}] (got {sample_rate_hz!r})"
        )
    return rate
