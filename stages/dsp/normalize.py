"""Loudness normalisation gains (BS.1770-4 integrated loudness; album = all songs' blocks gated together)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from stages.dsp.loudness import gated_loudness_lufs

MIN_TARGET_LUFS = -70.0
MAX_TARGET_LUFS = 0.0


def _check_target(target_lufs: float) -> float:
    try:
        target = float(target_lufs)
    except (TypeError, ValueError):
        raise ValueError(f"target_lufs: must be a number (got {target_lufs!r})") from None
    if not (MIN_TARGET_LUFS <= target <= MAX_TARGET_LUFS):
        raise ValueError(f"target_lufs: must be in [{MIN_TARGET_LUFS:g}, {MAX_TARGET_LUFS:g}] (got {target_lufs!r})")
    return target


def loudness_gain_db(measured_lufs: float, target_lufs: float) -> float:
    """Gain in dB taking measured_lufs to target_lufs; 0.0 for -inf (silence stays silent, never amplified)."""
    target = _check_target(target_lufs)
    measured = float(measured_lufs)
    if math.isnan(measured) or measured == math.inf:
        raise ValueError(f"measured_lufs: must be finite or -inf (got {measured_lufs!r})")
    if measured == -math.inf:
        return 0.0
    return target - measured


def track_gain_db(block_powers: np.ndarray, target_lufs: float) -> float:
    """Gain in dB bringing one song to target_lufs, from its 400 ms / 100 ms block powers (loudness.block_powers)."""
    return loudness_gain_db(gated_loudness_lufs(block_powers), target_lufs)


def album_gain_db(per_song_block_powers: Sequence[np.ndarray], target_lufs: float) -> float:
    """One gain in dB for the whole album: its integrated loudness gates all songs' blocks together (BS.1770-4 §2.8).

    Relative levels between songs are kept; 0.0 when the album is silent or empty.
    """
    powers = [np.asarray(p, dtype=np.float64).ravel() for p in per_song_block_powers]
    combined = np.concatenate(powers) if powers else np.zeros(0)
    return loudness_gain_db(gated_loudness_lufs(combined), target_lufs)
