"""Stages `bus` and `mixdown`: fixed-order sums of stems and buses, with a bus's own processing.

A bus with a delay or reverb is an effect return: it outputs the wet signal only. The mixdown and a bus without
effects stream block by block; an effect return's delay line and convolution still take the whole song.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field

from .mixing import MIX_BLOCK_FRAMES, Chain, MixInput, compressor, eq_chain, eq_sos, sum_inputs, summed
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


@stage("bus", "1")
def render_bus(inputs: MixInputs, p: BusParams) -> np.ndarray | AudioFile:
    from .dsp.delay import apply_delay
    from .dsp.reverb import apply_reverb, reverb_ir

    if p.delay is None and p.reverb is None:
        return _stream_bus(inputs, p)
    # an effect return: its delay line and its reverb's convolution run over the whole song
    audio = sum_inputs(inputs.sources, p.taps, p.frames)
    audio = compressor(eq_chain(audio, p.eq, p.sample_rate_hz), p.compressor, p.sample_rate_hz)
    if p.delay is not None:
        audio = apply_delay(audio, p.sample_rate_hz, time_ms=p.delay.spacing_ms(p.tempo_bpm),
                            feedback=p.delay.feedback, highcut_hz=p.delay.highcut_hz, wet_only=True)
    if p.reverb is not None:
        ir = reverb_ir(p.sample_rate_hz, p.reverb.decay_s, predelay_ms=p.reverb.predelay_ms,
                       damping=p.reverb.damping, width=p.reverb.width, seed=p.reverb_seed)
        audio = apply_reverb(audio, ir)
    return _fader(audio, p)


def _fader(audio: np.ndarray, p: BusParams) -> np.ndarray:
    """The bus's fader, pan and width, frame by frame (a block or the whole song alike)."""
    from .dsp.pan import pan_to_stereo, stereo_width

    return stereo_width(pan_to_stereo(audio * 10.0 ** (p.gain_db / 20.0), p.pan), p.width)


def _stream_bus(inputs: MixInputs, p: BusParams) -> AudioFile:
    """A bus without effects, block by block: sum, EQ, compressor, fader, pan and width."""
    chain = Chain([eq_sos(p.eq, p.sample_rate_hz)], p.compressor, 2, p.sample_rate_hz)
    out = AudioWriter(p.frames, 2)
    for lo in range(0, p.frames, MIX_BLOCK_FRAMES):
        audio = chain.process(summed(inputs.sources, p.taps, lo, min(p.frames, lo + MIX_BLOCK_FRAMES)))
        out.write(_fader(audio, p))
    return out.finish()


@stage("mixdown", "1")
def render_mixdown(inputs: MixInputs, p: MixdownParams) -> AudioFile:
    out = AudioWriter(p.frames, 2)
    for lo in range(0, p.frames, MIX_BLOCK_FRAMES):
        out.write(summed(inputs.sources, p.taps, lo, min(p.frames, lo + MIX_BLOCK_FRAMES)))
    return out.finish()
