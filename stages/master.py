"""Stage `master`: a song's mastering chain — broad EQ, the album's tonal decision, glue compression."""

from __future__ import annotations

import numpy as np

from .album_tonal import HIGH_SHELF_HZ, LOW_SHELF_HZ
from .mixing import compressor, eq_chain
from .params import Compressor, EqBand, SpecModel
from .registry import stage


class MasterParams(SpecModel):
    sample_rate_hz: int
    song: str
    eq: list[EqBand] = []
    compressor: Compressor | None = None


@stage("master", "1", MasterParams)
def render_master(inputs, p: MasterParams, ctx) -> np.ndarray:
    from .dsp.eq import apply_sos, band_sos

    mixdown, *decision = inputs  # with tonal match, the song's own pick of album/tonal: <song>/tonal
    audio = eq_chain(np.asarray(mixdown, dtype=np.float64), p.eq, p.sample_rate_hz)
    tonal = decision[0]["value"] if decision else None
    if tonal:
        for kind, freq_hz, gain_db in (("low_shelf", LOW_SHELF_HZ, tonal["low_shelf_db"]),
                                       ("high_shelf", HIGH_SHELF_HZ, tonal["high_shelf_db"])):
            if gain_db:
                audio = apply_sos(audio, band_sos(kind, freq_hz, p.sample_rate_hz, gain_db=gain_db))
    return compressor(audio, p.compressor, p.sample_rate_hz)
