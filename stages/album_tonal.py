"""Stage `album_tonal` (album/tonal): the album's tonal decision, taken from all mixdowns.

It outputs small decisions, not measurements: per song, a low and a high shelf gain (dB, 0.1 dB
steps) that move its long-term spectrum toward the album mean, so a tweak elsewhere that leaves the
decision unchanged re-masters nothing (early cutoff).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .params import RenderParams, TonalMatch
from .registry import stage

LOW_SHELF_HZ = 250.0
HIGH_SHELF_HZ = 4000.0


class AlbumTonalParams(RenderParams):
    """The songs whose master asks for tonal matching (in the order of the `mixdowns` input), and how much."""

    songs: list[str] = []
    tonal_match: dict[str, TonalMatch] = {}


@dataclass(frozen=True)
class AlbumTonalInputs:
    mixdowns: list[np.ndarray]


def tonal_corrections(spectra_db: list[np.ndarray], centers_hz: np.ndarray,
                      settings: list[TonalMatch]) -> list[list[float]]:
    """Per song (low_db, high_db): the bounded move of its band levels toward the album mean."""
    levels = np.array([s - np.mean(s) for s in spectra_db])  # compare shape, not loudness
    deviation = levels - levels.mean(axis=0)
    low, high = centers_hz < LOW_SHELF_HZ, centers_hz > HIGH_SHELF_HZ
    out = []
    for dev, tm in zip(deviation, settings):
        moves = [-tm.strength * float(np.mean(dev[band])) for band in (low, high)]
        out.append([round(float(np.clip(m, -tm.max_db, tm.max_db)), 1) + 0.0 for m in moves])
    return out


@stage("album_tonal", "1")
def render_album_tonal(inputs: AlbumTonalInputs, p: AlbumTonalParams) -> dict[str, Any]:
    """Per song of `p.songs`, the shelf moves toward the album mean (none for fewer than two songs)."""
    if len(p.songs) < 2:
        return {"tonal": {}}
    from .dsp.pages import drop_pages
    from .dsp.spectrum import third_octave_levels_db

    spectra = []
    for audio in inputs.mixdowns:
        centers, levels = third_octave_levels_db(audio, p.sample_rate_hz)
        drop_pages(audio)  # an album's mixdowns are read one after another, not held
        spectra.append(np.maximum(levels, -120.0))
    moves = tonal_corrections(spectra, centers, [p.tonal_match[s] for s in p.songs])
    return {"tonal": {song: {"low_shelf_db": lo, "high_shelf_db": hi} for song, (lo, hi) in zip(p.songs, moves)}}
