"""Stage `song_loudness` (<song>/loudness): the gating block powers of one song's master.

The album's loudness decision pools every album-mode song's blocks; measuring each song in a node of its
own means a tweak to one song re-measures that song only, and the decision reads a few numbers per second
of music instead of every master's samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .params import RenderParams
from .registry import stage


class SongLoudnessParams(RenderParams):
    """The master's rate: the K-weighting and the block lengths follow it."""


@dataclass(frozen=True)
class SongLoudnessInputs:
    master: np.ndarray


@stage("song_loudness", "1")
def render_song_loudness(inputs: SongLoudnessInputs, p: SongLoudnessParams) -> dict[str, Any]:
    from .dsp.loudness import block_powers

    # A stored master is finite float32 (its writer refused anything else): not read a first time to check it
    # (0.154 s against 0.172 s for 4 minutes of stereo).
    return {"gating_powers": block_powers(np.asarray(inputs.master), p.sample_rate_hz, check=False).tolist()}
