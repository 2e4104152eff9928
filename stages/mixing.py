"""Channel-strip helpers shared by stem and bus kernels: EQ chains and input summing.

A stem's output spans the stem only (its own frames, from its start in song time); a sum places each
source at its start frame and cuts what runs past the song's end.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from .dsp.pages import drop_pages
from .params import Compressor, EqBand, SpecModel


class MixInput(SpecModel):
    """One input of a sum: which signal of a stem's output to take (post/pre fader), its level, where it
    starts in song time, and where a mono signal sits in stereo."""

    tap: Literal["post", "pre"] = "post"
    signals: Literal[1, 2] = Field(default=1, description="Signals the source's output holds, side by side: "
                                   "its post-fader one, and for a stem with a pre-fader send its pre-fader one.")
    pan: float = Field(default=0.0, ge=-1.0, le=1.0, description="A mono source's pan (its stem's).")
    width: float = Field(default=1.0, ge=0.0, le=2.0, description="A mono source's width (its stem's).")
    level_db: float = 0.0
    """The send's level (a Send, bounded there), or 0 for a channel's own output."""
    start_frame: int = Field(default=0, ge=0, description="Where the source starts in the song: a stem's "
                                                           "start_frame(offset_s); 0 for a bus (it spans the song).")


def start_frame(offset_s: float, sample_rate_hz: int) -> int:
    """The frame a stem starting at `offset_s` starts at: one rounding, shared by the stem and the sums."""
    return int(round(offset_s * sample_rate_hz))


def eq_sos(bands: list[EqBand], sample_rate_hz: int) -> np.ndarray | None:
    """EQ bands in order as one cascade of second-order sections; None for no bands."""
    if not bands:
        return None
    from .dsp.eq import band_sos

    return np.concatenate([
        band_sos(b.type, b.freq_hz, sample_rate_hz, gain_db=getattr(b, "gain_db", 0.0), q=b.q,
                 slope_db_per_oct=getattr(b, "slope_db_per_oct", 12))
        for b in bands
    ])


def compressor_stream(settings: Compressor | None, channels: int, sample_rate_hz: int) -> Any:
    """A compressor spec as a `dsp.compressor.Compressor` stream, or None when there is none."""
    if settings is None:
        return None
    from .dsp.compressor import Compressor as Stream

    return Stream(sample_rate_hz, channels, threshold_db=settings.threshold_db, ratio=settings.ratio,
                  knee_db=settings.knee_db, attack_ms=settings.attack_ms, release_ms=settings.release_ms,
                  makeup_db=settings.makeup_db, sidechain_highpass_hz=settings.sidechain_highpass_hz)


MIX_BLOCK_FRAMES = 1 << 18
"""Frames per block of a streamed sum or chain (5.5 s at 48 kHz): a whole number of compressor blocks."""


def summed(arrays: list[np.ndarray], inputs: list[MixInput], lo: int, hi: int) -> np.ndarray:
    """Frames [lo, hi) of the stereo sum of inputs in their given (fixed) order, each at its level from its
    start frame, cut at the song's end; float64. A mono signal (a mono stem's) is placed in stereo here, by
    its pan and width (a pre-fader one at the centre), as a mixer's channel places it. Frames a source does
    not span get nothing added (what adding its zeros gave, bit for bit), and the same products are added in
    the same order whatever the block, so a sum taken block by block is bit-identical to the whole; each
    input's pages are dropped once read."""
    from .dsp.accumulate import add_placed_mono, add_scaled_stereo
    from .dsp.pan import mono_placement

    out = np.zeros((hi - lo, 2))
    for audio, spec in zip(arrays, inputs):
        width = audio.shape[1] // spec.signals  # channels per signal: 1 (mono) or 2
        if width not in (1, 2) or width * spec.signals != audio.shape[1]:
            raise ValueError(f"summed: a source of {audio.shape[1]} channels does not hold {spec.signals} "
                             "mono or stereo signal(s)")
        first = 0 if spec.tap == "post" else width
        signal = audio[:, first:first + width]
        gain = 10.0 ** (spec.level_db / 20.0)
        start, stop = max(lo, spec.start_frame), min(hi, spec.start_frame + signal.shape[0])
        if start < stop:
            into, read = out[start - lo:stop - lo], signal[start - spec.start_frame:stop - spec.start_frame]
            if read.dtype not in (np.float32, np.float64):
                raise ValueError(f"summed: sources are float32 or float64 audio (got {read.dtype})")
            if width == 1:
                left, right = mono_placement(*((spec.pan, spec.width) if spec.tap == "post" else (0.0, 1.0))) * gain
                add_placed_mono(into, read, float(left), float(right))
            else:
                add_scaled_stereo(into, read, read.dtype.type(gain))
        drop_pages(audio)  # memory stays flat in stem count
    return out


class Chain:
    """EQ cascades in order, then a compressor, as a stream over consecutive blocks (each a whole number of
    compressor blocks but the last): the filters' and the compressor's state carried, bit-identical to
    running each stage over the whole song. `filtered` and `squeezed` are its two halves, each with its own
    state, for a kernel that runs them on two threads (see ahead.py)."""

    def __init__(self, cascades: list[np.ndarray | None], settings: Compressor | None, channels: int,
                 sample_rate_hz: int) -> None:
        from .dsp.iir import initial_state

        self.cascades = [(sos, initial_state(sos, channels)) for sos in cascades if sos is not None]
        self.squeeze = compressor_stream(settings, channels, sample_rate_hz)

    def filtered(self, block: np.ndarray) -> np.ndarray:
        """The next block through the EQ cascades."""
        from .dsp.iir import sosfilt

        for sos, state in self.cascades:
            block = sosfilt(sos, block, state)
        return block

    def squeezed(self, block: np.ndarray) -> np.ndarray:
        """The next filtered block through the compressor."""
        return block if self.squeeze is None else self.squeeze.process(block)
