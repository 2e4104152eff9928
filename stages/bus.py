"""Stages `bus` and `mixdown`: fixed-order sums of stems and buses, with a bus's own processing.

A bus with a delay or reverb is an effect return: it outputs the wet signal only. Both stream block by block:
the sum, EQ and compressor, the delay line and the reverb's overlap-add, each bit-identical to one pass over the
whole song.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field

from .ahead import computed_ahead
from .mixing import MIX_BLOCK_FRAMES, Chain, MixInput, eq_sos, summed
from .params import BusStrip, RenderParams
from .registry import AudioFile, AudioWriter, stage


class MixdownParams(RenderParams):
    """A fixed-order sum into the song's length (sources past its end are cut), one tap per source, in the
    order of the `sources` input."""

    frames: int = Field(gt=0, description="Song length in frames, tail included.")
    taps: list[MixInput] = Field(description="Per source, in order: which half of it, at what level, from which frame.")


@dataclass(frozen=True)
class MixInputs:
    sources: list[np.ndarray]


class BusParams(BusStrip, MixdownParams):
    """The bus's strip from the spec, plus the song's tempo (delays in beats) and the reverb's seed."""

    tempo_bpm: float | None = None
    reverb_seed: int = Field(default=0, description="From the node id: the same room on every render.")


@stage("bus", "2")
def render_bus(inputs: MixInputs, p: BusParams) -> AudioFile:
    from .dsp.delay import delay_stream
    from .dsp.reverb import reverb_ir, reverb_stream

    chain = Chain([eq_sos(p.eq, p.sample_rate_hz)], p.compressor, 2, p.sample_rate_hz)
    effects: list[Any] = []  # streams with process(block) and finish(): an effect return's wet signal
    if p.delay is not None:
        effects.append(delay_stream(p.sample_rate_hz, p.delay.spacing_ms(p.tempo_bpm), p.delay.feedback,
                                    p.delay.highcut_hz, p.frames, 2))
    if p.reverb is not None:
        ir = reverb_ir(p.sample_rate_hz, p.reverb.decay_s, predelay_ms=p.reverb.predelay_ms,
                       damping=p.reverb.damping, width=p.reverb.width, seed=p.reverb_seed)
        effects.append(reverb_stream(ir, p.frames, 2))
    filtered = (chain.filtered(summed(inputs.sources, p.taps, lo, min(p.frames, lo + MIX_BLOCK_FRAMES)))
                for lo in range(0, p.frames, MIX_BLOCK_FRAMES))

    def wet() -> Iterator[np.ndarray]:
        """Each filtered block through the compressor and the effects, then what the effects still hold."""
        for block in computed_ahead(filtered):  # the next block's sum and EQ meanwhile
            audio = chain.squeezed(block)
            for effect in effects:  # each returns the frames it has made final (an effect lags, then catches up)
                audio = effect.process(audio)
            yield audio
        tail = np.zeros((0, 2))
        for effect in effects:  # what each still holds, through the effects after it
            tail = np.concatenate([effect.process(tail), effect.finish()])
        yield tail

    out = AudioWriter(p.frames, 2)
    for audio in computed_ahead(wet()):  # up to three threads: sum and EQ, compressor and effects, fader and write
        out.write(_fader(audio, p))
    return out.finish()


def _fader(audio: np.ndarray, p: BusParams) -> np.ndarray:
    """The bus's fader, pan and width, frame by frame."""
    from .dsp.pan import pan_to_stereo, stereo_width

    return stereo_width(pan_to_stereo(audio * 10.0 ** (p.gain_db / 20.0), p.pan), p.width)


@stage("mixdown", "2")
def render_mixdown(inputs: MixInputs, p: MixdownParams) -> AudioFile:
    out = AudioWriter(p.frames, 2)
    sums = (summed(inputs.sources, p.taps, lo, min(p.frames, lo + MIX_BLOCK_FRAMES))
            for lo in range(0, p.frames, MIX_BLOCK_FRAMES))
    for block in computed_ahead(sums):  # the next sum while this one is written
        out.write(block)
    return out.finish()
