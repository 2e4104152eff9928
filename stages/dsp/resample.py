"""Sample-rate conversion with python-soxr at very high quality (no home-made filters)."""

from __future__ import annotations

import numpy as np
import soxr


def resample(audio: np.ndarray, from_hz: float, to_hz: float) -> np.ndarray:
    """`(frames, channels)` audio from one rate to another (soxr VHQ); float64 out."""
    x = np.asarray(audio, dtype=np.float64)
    if from_hz == to_hz:
        return x.copy()
    return soxr.resample(np.ascontiguousarray(x), from_hz, to_hz, quality="VHQ")
