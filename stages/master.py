"""Stage `master`: a song's mastering chain — broad EQ, the album's tonal decision, glue compression."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .album_tonal import HIGH_SHELF_HZ, LOW_SHELF_HZ
from .mixing import compressor, eq_chain
from .params import MasterStrip, RenderParams
from .registry import stage


class MasterParams(MasterStrip, RenderParams):
    """The song's mastering strip from the spec."""


@dataclass(frozen=True)
class MasterInputs:
    mixdown: np.ndarray
    tonal: dict[str, Any] | None = None
    """With tonal matching: the song's own pick of album/tonal (<song>/tonal)."""


@stage("master", "1")
def render_master(inputs: MasterInputs, p: MasterParams) -> np.ndarray:
    from .dsp.eq import apply_sos, band_sos

    audio = eq_chain(np.asarray(inputs.mixdown, dtype=np.float64), p.eq, p.sample_rate_hz)
    tonal = inputs.tonal["value"] if inputs.tonal else None
    if tonal:
        for kind, freq_hz, gain_db in (("low_shelf", LOW_SHELF_HZ, tonal["low_shelf_db"]),
                                       ("high_shelf", HIGH_SHELF_HZ, tonal["high_shelf_db"])):
            if gain_db:
                audio = apply_sos(audio, band_sos(kind, freq_hz, p.sample_rate_hz, gain_db=gain_db))
    return compressor(audio, p.compressor, p.sample_rate_hz)
