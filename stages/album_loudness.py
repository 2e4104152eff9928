"""Stage `album_loudness` (album/loudness): one gain per target for the songs mastered in album mode.

The album's integrated loudness is gated over all its songs together (the BS.1770-4 blocks of every
song, measured per song by <song>/loudness, pooled); the decision is rounded to 0.1 dB (below what a listener hears, and the precision
loudness targets are written to) so that a tweak that does not move it re-renders no other song's finals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .params import RenderParams
from .registry import stage

GAIN_STEP_DB = 0.1


class AlbumLoudnessParams(RenderParams):
    """The songs mastered in album mode (in the order of the `songs` input) and each target's loudness."""

    songs: list[str]
    target_lufs: dict[str, float | None]


@dataclass(frozen=True)
class AlbumLoudnessInputs:
    songs: list[dict[str, Any]]
    """Per album-mode song, its <song>/loudness: the master's gating block powers."""


@stage("album_loudness", "2")
def render_album_loudness(inputs: AlbumLoudnessInputs, p: AlbumLoudnessParams) -> dict[str, Any]:
    from .dsp.loudness import gated_loudness_lufs

    powers = np.concatenate([np.asarray(song["gating_powers"], dtype=np.float64) for song in inputs.songs])
    album_lufs = gated_loudness_lufs(powers)
    gains = {}
    for target, lufs in p.target_lufs.items():
        gain = 0.0 if lufs is None or not np.isfinite(album_lufs) else lufs - album_lufs
        gains[target] = round(round(gain / GAIN_STEP_DB) * GAIN_STEP_DB, 1) + 0.0
    return {"gain_db": gains}  # the decision only: a measurement here would defeat early cutoff
