"""Decibel <-> linear amplitude conversions (20*log10 convention, amplitude not power)."""

from __future__ import annotations

import numpy as np


def db_to_gain(gain_db):
    """Linear amplitude factor 10**(gain_db/20) of a level in dB; scalars or arrays, float64."""
    return np.power(10.0, np.asarray(gain_db, dtype=np.float64) / 20.0)


def gain_to_db(gain, floor_db: float = -200.0):
    """Level in dB, 20*log10(|gain|), of a linear amplitude; |gain| below the floor reads floor_db (0 -> floor_db, never -inf)."""
    floor_db = float(floor_db)
    if not np.isfinite(floor_db):
        raise ValueError(f"floor_db: must be a finite number (got {floor_db!r})")
    magnitude = np.maximum(np.abs(np.asarray(gain, dtype=np.float64)), 10.0 ** (floor_db / 20.0))
    return 20.0 * np.log10(magnitude)
