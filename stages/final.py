"""Stage `final` (<song>/final/<target>): the delivered signal before encoding.

Sample-rate conversion to the target's rate first (so the true-peak limit holds at the delivered
rate), then vinyl mono-bass, then the loudness gain (album or track mode), then the true-peak limiter.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .params import Limiter, SpecModel
from .registry import stage


class FinalParams(SpecModel):
    sample_rate_hz: int
    target: str
    target_rate_hz: int
    target_lufs: float | None
    ceiling_dbtp: float
    limiter: Limiter
    mono_bass_hz: float | None = None
    loudness_mode: Literal["album", "track"] = "album"


@stage("final", "1", FinalParams)
def render_final(inputs, p: FinalParams, ctx) -> np.ndarray:
    from .dsp.crossover import mono_bass
    from .dsp.limiter import true_peak_limit
    from .dsp.loudness import integrated_lufs
    from .dsp.resample import resample

    audio = np.asarray(inputs[0], dtype=np.float64)
    if p.target_rate_hz != p.sample_rate_hz:
        audio = resample(audio, p.sample_rate_hz, p.target_rate_hz)
    if p.mono_bass_hz is not None:
        audio = mono_bass(audio, p.target_rate_hz, p.mono_bass_hz)
    if p.target_lufs is not None:
        if p.loudness_mode == "album":
            gain_db = inputs[1]["value"]  # album/gain/<target>: this target's share of album/loudness
        else:
            measured = integrated_lufs(audio, p.target_rate_hz)
            gain_db = p.target_lufs - measured if np.isfinite(measured) else 0.0
        audio = audio * 10.0 ** (gain_db / 20.0)
    return true_peak_limit(audio, p.target_rate_hz, ceiling_dbtp=p.ceiling_dbtp,
                           release_ms=p.limiter.release_ms, lookahead_ms=p.limiter.lookahead_ms)
