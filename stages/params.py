"""Processing parameters, declared once for the spec and the stage: EQ bands, dynamics, space,
automation, and the channel strips of stems, buses and masters built from them.

A spec model (pipeline.specs) inherits a strip and adds routing; a stage's params model inherits the same
strip and adds what the engine decides (render rate, song length). Bounds, units and descriptions are
written here only. They live in `stages` so kernels declare their params without importing the engine.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union, cast

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .dsp.checks import MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ, Q_BUTTERWORTH
from .tails import beats_to_ms


class SpecModel(BaseModel):
    """A spec or params model: a typo is an error, `true` is not a number, fields never change after load."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False, strict=True)


def fields_of(source: BaseModel, block: type[SpecModel]) -> dict[str, Any]:
    """The values of `block`'s fields on `source` (a spec model that inherits `block`): how the DAG
    compiler hands a spec's strip to a stage's params without copying it field by field."""
    return {name: getattr(source, name) for name in block.model_fields}


def field_range(model: type[BaseModel], name: str) -> tuple[float, float]:
    """The [ge, le] bounds declared on a numeric field: automation reuses its parameter's own range."""
    metadata = model.model_fields[name].metadata
    low = next(m.ge for m in metadata if isinstance(m, annotated_types.Ge))
    high = next(m.le for m in metadata if isinstance(m, annotated_types.Le))
    return float(cast(float, low)), float(cast(float, high))  # annotated_types types bounds as only comparable


class RenderParams(SpecModel):
    """What every audio stage is told by the engine: the rate of the audio it processes."""

    sample_rate_hz: int = Field(ge=MIN_SAMPLE_RATE_HZ, le=MAX_SAMPLE_RATE_HZ, description="Sample rate in Hz.")


class _Band(SpecModel):
    freq_hz: float = Field(gt=0, le=96000, description="Centre or corner frequency in Hz.")


class PassBand(_Band):
    """A high- or low-pass filter: 12 dB/oct is one RBJ biquad, 24 dB/oct two in cascade."""

    type: Literal["highpass", "lowpass"] = Field(description="highpass cuts below freq_hz, lowpass above.")
    q: float = Field(default=Q_BUTTERWORTH, gt=0, le=20, description="Quality factor: higher is narrower.")
    slope_db_per_oct: Literal[12, 24] = Field(
        default=12, description="12: one Butterworth biquad (-3 dB at freq_hz); 24: two (Linkwitz-Riley, -6 dB).")


class ShelfBand(_Band):
    """An RBJ shelving filter; `gain_db` is the shelf's plateau gain."""

    type: Literal["low_shelf", "high_shelf"] = Field(description="Shelf below (low) or above (high) freq_hz.")
    gain_db: float = Field(default=0.0, ge=-24, le=24, description="Shelf gain in dB, -24..24.")
    q: float = Field(default=Q_BUTTERWORTH, gt=0, le=20, description="Quality factor: higher is narrower.")


class PeakBand(_Band):
    """An RBJ peaking (bell) filter."""

    type: Literal["peak"] = Field(description="A bell around freq_hz, q wide.")
    gain_db: float = Field(default=0.0, ge=-24, le=24, description="Bell gain in dB, -24..24.")
    q: float = Field(default=1.0, gt=0, le=40, description="Quality factor: higher is narrower.")


class NotchBand(_Band):
    """An RBJ notch: infinite attenuation at `freq_hz`."""

    type: Literal["notch"] = Field(description="Cuts freq_hz completely, q wide.")
    q: float = Field(default=8.0, gt=0, le=100, description="Quality factor: higher is narrower.")


class BandpassBand(_Band):
    """An RBJ band-pass with 0 dB peak gain."""

    type: Literal["bandpass"] = Field(description="Keeps the band around freq_hz, q wide.")
    q: float = Field(default=Q_BUTTERWORTH, gt=0, le=40, description="Quality factor: higher is narrower.")


EqBand = Annotated[
    Union[PassBand, ShelfBand, PeakBand, NotchBand, BandpassBand],
    Field(discriminator="type"),
]


class Compressor(SpecModel):
    """Feed-forward, stereo-linked compressor with a quadratic soft knee."""

    threshold_db: float = Field(default=-18.0, ge=-80, le=0, description="Level in dBFS above which gain is reduced.")
    ratio: float = Field(default=2.0, ge=1, le=100, description="Input dB over threshold per output dB.")
    knee_db: float = Field(default=6.0, ge=0, le=24, description="Width of the soft knee in dB; 0 is a hard knee.")
    attack_ms: float = Field(default=10.0, ge=0.01, le=1000, description="Time constant of gain reduction.")
    release_ms: float = Field(default=100.0, ge=1, le=5000, description="Time constant of recovery.")
    makeup_db: float = Field(default=0.0, ge=-24, le=24, description="Gain added after compression.")
    sidechain_highpass_hz: float | None = Field(default=None, ge=10, le=1000,
                                                description="High-pass on the detector, so bass pumps less.")


class Reverb(SpecModel):
    """Algorithmic reverb; a bus with a reverb returns the wet signal only."""

    decay_s: float = Field(default=1.5, ge=0.1, le=20, description="RT60 in seconds.")
    predelay_ms: float = Field(default=0.0, ge=0, le=500, description="Silence before the tail starts.")
    damping: float = Field(default=0.5, ge=0, le=1, description="0 bright, 1 dark tail.")
    width: float = Field(default=1.0, ge=0, le=1, description="0 mono tail, 1 decorrelated.")


class Delay(SpecModel):
    """Feedback delay, in milliseconds or in beats of the song's `tempo_bpm`."""

    time_ms: float | None = Field(default=None, gt=0, le=5000, description="Echo spacing in milliseconds.")
    beats: float | None = Field(default=None, gt=0, le=16, description="Echo spacing in beats of tempo_bpm.")
    feedback: float = Field(default=0.3, ge=0, le=0.95, description="Level of each echo relative to the last.")
    highcut_hz: float | None = Field(default=6000.0, ge=200, le=40000, description="Low-pass in the feedback path.")

    @model_validator(mode="after")
    def _one_time(self) -> "Delay":
        if (self.time_ms is None) == (self.beats is None):
            raise ValueError("give exactly one of time_ms or beats")
        return self

    def spacing_ms(self, tempo_bpm: float | None) -> float:
        """The echo spacing in ms: `time_ms`, else `beats` at `tempo_bpm` (ValueError when there is no tempo)."""
        if self.time_ms is not None:
            return self.time_ms
        assert self.beats is not None  # _one_time: exactly one of time_ms and beats is given
        return beats_to_ms(self.beats, tempo_bpm)


class Send(SpecModel):
    """A send to a bus: level in dB, taken before or after the stem's fader and pan."""

    level_db: float = Field(default=0.0, ge=-120, le=12, description="Send level in dB.")
    pre_fader: bool = Field(default=False, description="Tap before the fader and pan (a cue or monitor send).")


Breakpoints = list[Annotated[list[float], Field(min_length=2, max_length=2)]]
"""`[[time_s, value], ...]`: a list of pairs (YAML and JSON have no tuples)."""


MAX_AUTOMATION_TIME_S = 36000
"""Breakpoint times reach up to 10 hours: longer than any song we render."""


class Automation(SpecModel):
    """Piecewise-linear breakpoints `[[time_s, value], ...]` of a strip parameter, held before the first
    and after the last; values stay within the parameter's own bounds."""

    gain_db: Breakpoints | None = Field(default=None, min_length=1, description="Fader level over time, dB.")
    pan: Breakpoints | None = Field(default=None, min_length=1, description="Pan position over time.")

    @model_validator(mode="after")
    def _check(self) -> "Automation":
        for name in type(self).model_fields:
            limits = field_range(Fader, name)
            points = getattr(self, name)
            if points is None:
                continue
            times = [t for t, _ in points]
            if any(not 0 <= t <= MAX_AUTOMATION_TIME_S for t in times):
                raise ValueError(f"{name}: breakpoint times must be in [0, {MAX_AUTOMATION_TIME_S}] s (got {times})")
            if any(b < a for a, b in zip(times, times[1:])):
                raise ValueError(f"{name}: breakpoint times must not decrease (got {times})")
            bad = [v for _, v in points if not limits[0] <= v <= limits[1]]
            if bad:
                raise ValueError(f"{name}: values must be in [{limits[0]}, {limits[1]}] (got {bad[0]})")
        return self


class Limiter(SpecModel):
    """Look-ahead true-peak limiter settings."""

    ceiling_dbtp: float = Field(default=-1.0, ge=-20, le=0, description="Highest true peak let through, dBTP.")
    release_ms: float = Field(default=100.0, ge=1, le=2000, description="Time constant of recovery.")
    lookahead_ms: float = Field(default=5.0, ge=0.5, le=20, description="How early gain reduction starts.")


class TonalMatch(SpecModel):
    """Nudge each song's long-term spectrum toward the album mean, bounded by `max_db`."""

    strength: float = Field(default=0.5, ge=0, le=1, description="Fraction of the distance to the mean moved.")
    max_db: float = Field(default=2.0, ge=0, le=6, description="Largest shelf move in dB.")


class Fader(SpecModel):
    """What every mixer channel has: fader, pan, width, EQ and a compressor."""

    gain_db: float = Field(default=0.0, ge=-120, le=24, description="Fader level in dB.")
    pan: float = Field(default=0.0, ge=-1, le=1, description="-1 left, 0 centre, +1 right.")
    width: float = Field(default=1.0, ge=0, le=2, description="Mid/side width: 0 mono, 1 as is.")
    eq: list[EqBand] = Field(default_factory=list, max_length=32, description="EQ bands, applied in order.")
    compressor: Compressor | None = Field(default=None, description="Dynamics after the EQ; none if unset.")


class StemStrip(Fader):
    """A stem's channel strip: where it starts, polarity, and automation on top of the fader."""

    offset_s: float = Field(default=0.0, ge=0, le=36000, description="Start time in the song.")
    polarity_invert: bool = Field(default=False, description="Flip the polarity (a phase-reversed mic).")
    automation: Automation | None = Field(default=None, description="Gain or pan ramps over song time.")


class BusStrip(Fader):
    """A bus's channel strip; with a reverb or delay the bus returns the wet signal only."""

    reverb: Reverb | None = Field(default=None, description="Makes the bus a reverb return (wet only).")
    delay: Delay | None = Field(default=None, description="Makes the bus a delay return (wet only).")


class MasterStrip(SpecModel):
    """A song's mastering moves before delivery: a DC filter, broad EQ and glue compression."""

    dc_filter_hz: float | None = Field(
        default=None, ge=1, le=30,
        description="Remove DC offset first: a first-order high-pass at this corner in Hz (5 is typical); off if unset.")
    eq: list[EqBand] = Field(default_factory=list, max_length=16, description="EQ bands, applied in order.")
    compressor: Compressor | None = Field(default=None, description="Dynamics after the EQ; none if unset.")
