"""Stage `final` (<song>/final/<target>): the delivered signal before encoding.

Sample-rate conversion to the target's rate first (so the true-peak limit holds at the delivered
rate), then vinyl mono-bass, then the loudness gain (album or track mode), then the true-peak limiter. The
song is held whole (float64), once: the gain and the limiter work in place and the output is written in blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field

from .delivery import LoudnessTarget
from .params import Limiter, RenderParams
from .registry import AudioFile, AudioWriter, RenderError, stage


class FinalParams(LoudnessTarget, RenderParams):
    """The target's loudness and ceiling (the lower of the target's and the limiter's), its rate, the
    master's limiter, and whether the gain is the album's (an input) or measured here (track mode)."""

    target_rate_hz: int = Field(description="Delivery rate in Hz.")
    limiter: Limiter
    loudness_mode: Literal["album", "track"] = "album"


@dataclass(frozen=True)
class FinalInputs:
    master: np.ndarray
    album_gain: dict[str, Any] | None = None
    """Album mode: this target's share of album/loudness (album/gain/<target>)."""


@stage("final", "1")
def render_final(inputs: FinalInputs, p: FinalParams) -> AudioFile:
    from .dsp.crossover import mono_bass
    from .dsp.limiter import true_peak_limit
    from .dsp.loudness import integrated_lufs
    from .dsp.resample import resample
    from .mixing import MIX_BLOCK_FRAMES, release_pages

    audio = np.array(inputs.master, dtype=np.float64)  # a copy of our own: gained and limited in place
    release_pages(inputs.master)
    if p.target_rate_hz != p.sample_rate_hz:
        audio = resample(audio, p.sample_rate_hz, p.target_rate_hz)
    if p.mono_bass_hz is not None:
        audio = mono_bass(audio, p.target_rate_hz, p.mono_bass_hz)
    if p.target_lufs is not None:
        if p.loudness_mode == "album":
            if inputs.album_gain is None:
                raise RenderError("final: album loudness mode needs the album_gain input")
            gain_db = inputs.album_gain["value"]
        else:
            measured = integrated_lufs(audio, p.target_rate_hz)
            gain_db = p.target_lufs - measured if np.isfinite(measured) else 0.0
        audio *= 10.0 ** (gain_db / 20.0)
    limited = true_peak_limit(audio, p.target_rate_hz, ceiling_dbtp=p.ceiling_dbtp, release_ms=p.limiter.release_ms,
                              lookahead_ms=p.limiter.lookahead_ms, in_place=True)
    del audio
    out = AudioWriter(*limited.shape)
    for start in range(0, limited.shape[0], MIX_BLOCK_FRAMES):  # no float32 copy of the whole song
        out.write(limited[start:start + MIX_BLOCK_FRAMES])
    return out.finish()
