"""Stages `bus` and `mixdown`: fixed-order sums of stems and buses, with a bus's own processing.

A bus with a delay or reverb is an effect return: it outputs the wet signal only.
"""

from __future__ import annotations

import numpy as np

from .mixing import MixInput, compressor, eq_chain, sum_inputs
from .params import Compressor, Delay, EqBand, Reverb, SpecModel
from .registry import stage
from .tails import beats_to_ms


class MixdownParams(SpecModel):
    sample_rate_hz: int
    frames: int
    inputs: list[MixInput]


class BusParams(MixdownParams):
    gain_db: float = 0.0
    pan: float = 0.0
    width: float = 1.0
    eq: list[EqBand] = []
    compressor: Compressor | None = None
    delay: Delay | None = None
    reverb: Reverb | None = None
    tempo_bpm: float | None = None
    reverb_seed: int = 0


@stage("bus", "1", BusParams)
def render_bus(inputs, p: BusParams, ctx) -> np.ndarray:
    from .dsp.delay import apply_delay
    from .dsp.pan import pan_to_stereo, stereo_width
    from .dsp.reverb import apply_reverb, reverb_ir

    audio = sum_inputs(inputs, p.inputs, p.frames)
    audio = compressor(eq_chain(audio, p.eq, p.sample_rate_hz), p.compressor, p.sample_rate_hz)
    if p.delay is not None:
        time_ms = p.delay.time_ms if p.delay.time_ms is not None else beats_to_ms(p.delay.beats, p.tempo_bpm)
        audio = apply_delay(audio, p.sample_rate_hz, time_ms=time_ms, feedback=p.delay.feedback,
                            highcut_hz=p.delay.highcut_hz, wet_only=True)
    if p.reverb is not None:
        ir = reverb_ir(p.sample_rate_hz, p.reverb.decay_s, predelay_ms=p.reverb.predelay_ms,
                       damping=p.reverb.damping, width=p.reverb.width, seed=p.reverb_seed)
        audio = apply_reverb(audio, ir)
    audio = audio * 10.0 ** (p.gain_db / 20.0)
    return stereo_width(pan_to_stereo(audio, p.pan), p.width)


@stage("mixdown", "1", MixdownParams)
def render_mixdown(inputs, p: MixdownParams, ctx) -> np.ndarray:
    return sum_inputs(inputs, p.inputs, p.frames)
