"""Stage `master`: a song's mastering chain — a DC filter, broad EQ, the album's tonal decision, glue
compression — as a stream over the mixdown, block by block."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .ahead import computed_ahead
from .album_tonal import HIGH_SHELF_HZ, LOW_SHELF_HZ
from .dsp.pages import drop_pages
from .mixing import MIX_BLOCK_FRAMES, Chain, eq_sos
from .params import MasterStrip, RenderParams
from .registry import AudioFile, AudioWriter, stage


class MasterParams(MasterStrip, RenderParams):
    """The song's mastering strip from the spec."""


@dataclass(frozen=True)
class MasterInputs:
    mixdown: np.ndarray
    tonal: dict[str, Any] | None = None
    """With tonal matching: the song's own pick of album/tonal (<song>/tonal)."""


@stage("master", "1")
def render_master(inputs: MasterInputs, p: MasterParams) -> AudioFile:
    from .dsp.eq import band_sos, dc_block_sos

    tonal = inputs.tonal["value"] if inputs.tonal else None
    shelves = [band_sos(kind, freq_hz, p.sample_rate_hz, gain_db=gain_db)
               for kind, freq_hz, gain_db in (("low_shelf", LOW_SHELF_HZ, tonal["low_shelf_db"]),
                                              ("high_shelf", HIGH_SHELF_HZ, tonal["high_shelf_db"]))
               if gain_db] if tonal else []
    mixdown = inputs.mixdown
    frames, channels = mixdown.shape
    dc_block = None if p.dc_filter_hz is None else dc_block_sos(p.dc_filter_hz, p.sample_rate_hz)
    chain = Chain([dc_block, eq_sos(p.eq, p.sample_rate_hz), *shelves], p.compressor, channels, p.sample_rate_hz)
    out = AudioWriter(frames, channels)

    def filtered() -> Iterator[np.ndarray]:
        for lo in range(0, frames, MIX_BLOCK_FRAMES):  # block by block: the EQ's and compressor's state carried
            yield chain.filtered(np.asarray(mixdown[lo:lo + MIX_BLOCK_FRAMES], dtype=np.float64))
            drop_pages(mixdown)

    for block in computed_ahead(filtered()):  # the next block's EQ while this one is compressed and written
        out.write(chain.squeezed(block))
    return out.finish()
