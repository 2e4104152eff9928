"""Stage `final` (<song>/final/<target>): the delivered signal before encoding.

Sample-rate conversion to the target's rate first (so the true-peak limit holds at the delivered
rate), then vinyl mono-bass, then the loudness gain (album or track mode), then the true-peak limiter. The
song is held once, in float32 (what the stage delivers: the limiter measures the samples the export will read),
on the heap or (a long song) in a scratch file mapped into memory (see workspace): the gain and the limiter
work on it in place, each pass drops the pages it is done with, and the output is written in blocks, so
memory stays bounded whatever the song's length. The resampler, mono-bass and gain compute in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field

from .delivery import LoudnessTarget
from .params import Limiter, RenderParams
from .dsp.pages import drop_pages
from .registry import AudioFile, AudioWriter, RenderError, stage
from .workspace import work_arrays


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


WORK_DTYPE = np.float32
"""The song as the limiter works on it, and its envelope: the delivered samples' type, half float64's memory and
first-touch page faults (a 4-minute song: 141 MB, not 281). Exact for the envelope of float32 samples (their
magnitudes, and float32 interpolated points)."""


def _work_copy(master: np.ndarray, p: FinalParams, gain: float | None) -> tuple[np.ndarray, np.ndarray]:
    """The master at the target rate (libsoxr's stream: what its one-shot call gives), mono-bassed, times
    `gain` where it is known before (album mode: the same products as a pass over the copy, without one),
    computed in float64 and kept as float32 (WORK_DTYPE), written block by block, and an array for the
    limiter's envelope: on the heap where the two fit what is left of the process's budget (a song of usual
    length), else mapped from scratch files, so that a long song is held in the page cache."""
    import soxr

    from .dsp.crossover import MonoBass
    from .mixing import MIX_BLOCK_FRAMES

    frames, channels = master.shape
    # libsoxr's stream gives round(frames x ratio) frames in all: room for that, and a frame to spare
    capacity = frames if p.target_rate_hz == p.sample_rate_hz else \
        math.ceil(frames * p.target_rate_hz / p.sample_rate_hz) + 1
    copy, envelope = work_arrays(((capacity, channels), WORK_DTYPE), ((capacity,), WORK_DTYPE))
    stream = None if p.target_rate_hz == p.sample_rate_hz else soxr.ResampleStream(
        p.sample_rate_hz, p.target_rate_hz, channels, dtype="float64", quality="VHQ")
    bass = None if p.mono_bass_hz is None else MonoBass(p.target_rate_hz, p.mono_bass_hz, channels)
    written = 0
    for start in range(0, frames, MIX_BLOCK_FRAMES):
        block = np.array(master[start:start + MIX_BLOCK_FRAMES], dtype=np.float64)
        drop_pages(master, start + MIX_BLOCK_FRAMES, start)
        if stream is not None:
            block = stream.resample_chunk(block, last=start + MIX_BLOCK_FRAMES >= frames)
        if bass is not None:
            block = bass.process(block)
        if gain is not None:
            block *= gain
        if written + block.shape[0] > capacity:
            raise RenderError(f"final: the resampler gave more than the {capacity} frames expected")
        copy[written:written + block.shape[0]] = block
        drop_pages(copy, written + block.shape[0], written)
        written += block.shape[0]
    return copy[:written], envelope[:written]


@stage("final", "1")
def render_final(inputs: FinalInputs, p: FinalParams) -> AudioFile:
    from .dsp.limiter import true_peak_limit
    from .dsp.loudness import integrated_lufs
    from .dsp.pages import walk
    from .mixing import MIX_BLOCK_FRAMES

    album_gain = p.target_lufs is not None and p.loudness_mode == "album"
    if album_gain and inputs.album_gain is None:
        raise RenderError("final: album loudness mode needs the album_gain input")
    gain = 10.0 ** (inputs.album_gain["value"] / 20.0) if album_gain and inputs.album_gain else None
    audio, envelope = _work_copy(inputs.master, p, gain)  # ours: limited in place
    if p.target_lufs is not None and not album_gain:  # track mode: measured on the copy, then applied
        measured = integrated_lufs(audio, p.target_rate_hz)
        gain_db = p.target_lufs - measured if np.isfinite(measured) else 0.0
        for _, block in walk(audio):  # the gain computed in float64, each product rounded once
            np.multiply(block, np.float64(10.0 ** (gain_db / 20.0)), out=block, casting="same_kind")
    limited = true_peak_limit(audio, p.target_rate_hz, ceiling_dbtp=p.ceiling_dbtp,
                              release_ms=p.limiter.release_ms, lookahead_ms=p.limiter.lookahead_ms,
                              in_place=True, envelope=envelope)
    out = AudioWriter(*limited.shape)
    for _, block in walk(limited, MIX_BLOCK_FRAMES):  # no float32 copy of the whole song
        out.write(block)
    return out.finish()
