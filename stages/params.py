"""Processing parameters shared by specs and stage kernels: EQ bands, dynamics, space, automation.

They live in `stages` so kernels can declare their params models without importing the engine.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SpecModel(BaseModel):
    """A spec or params model: a typo is an error, `true` is not a number, fields never change after load."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False, strict=True)


Q_BUTTERWORTH = 0.7071067811865476


class _Band(SpecModel):
    freq_hz: float = Field(gt=0, le=96000, description="Centre or corner frequency in Hz.")


class PassBand(_Band):
    """A high- or low-pass filter: 12 dB/oct is one RBJ biquad, 24 dB/oct two in cascade."""

    type: Literal["highpass", "lowpass"]
    q: float = Field(default=Q_BUTTERWORTH, gt=0, le=20)
    slope_db_per_oct: Literal[12, 24] = 12


class ShelfBand(_Band):
    """An RBJ shelving filter; `gain_db` is the shelf's plateau gain."""

    type: Literal["low_shelf", "high_shelf"]
    gain_db: float = Field(default=0.0, ge=-24, le=24)
    q: float = Field(default=Q_BUTTERWORTH, gt=0, le=20)


class PeakBand(_Band):
    """An RBJ peaking (bell) filter."""

    type: Literal["peak"]
    gain_db: float = Field(default=0.0, ge=-24, le=24)
    q: float = Field(default=1.0, gt=0, le=40)


class NotchBand(_Band):
    """An RBJ notch: infinite attenuation at `freq_hz`."""

    type: Literal["notch"]
    q: float = Field(default=8.0, gt=0, le=100)


class BandpassBand(_Band):
    """An RBJ band-pass with 0 dB peak gain."""

    type: Literal["bandpass"]
    q: float = Field(default=Q_BUTTERWORTH, gt=0, le=40)


EqBand = Annotated[
    Union[PassBand, ShelfBand, PeakBand, NotchBand, BandpassBand],
    Field(discriminator="type"),
]


class Compressor(SpecModel):
    """Feed-forward, stereo-linked compressor with a quadratic soft knee."""

    threshold_db: float = Field(default=-18.0, ge=-80, le=0)
    ratio: float = Field(default=2.0, ge=1, le=100)
    knee_db: float = Field(default=6.0, ge=0, le=24)
    attack_ms: float = Field(default=10.0, ge=0.01, le=1000)
    release_ms: float = Field(default=100.0, ge=1, le=5000)
    makeup_db: float = Field(default=0.0, ge=-24, le=24)
    sidechain_highpass_hz: float | None = Field(default=None, ge=10, le=1000)


class Reverb(SpecModel):
    """Algorithmic reverb; a bus with a reverb returns the wet signal only."""

    decay_s: float = Field(default=1.5, ge=0.1, le=20, description="RT60 in seconds.")
    predelay_ms: float = Field(default=0.0, ge=0, le=500)
    damping: float = Field(default=0.5, ge=0, le=1, description="0 bright, 1 dark tail.")
    width: float = Field(default=1.0, ge=0, le=1, description="0 mono tail, 1 decorrelated.")


class Delay(SpecModel):
    """Feedback delay, in milliseconds or in beats of the song's `tempo_bpm`."""

    time_ms: float | None = Field(default=None, gt=0, le=5000)
    beats: float | None = Field(default=None, gt=0, le=16)
    feedback: float = Field(default=0.3, ge=0, le=0.95)
    highcut_hz: float | None = Field(default=6000.0, ge=200, le=40000)

    @model_validator(mode="after")
    def _one_time(self) -> "Delay":
        if (self.time_ms is None) == (self.beats is None):
            raise ValueError("give exactly one of time_ms or beats")
        return self


class Send(SpecModel):
    """A send to a bus: level in dB, taken before or after the stem's fader and pan."""

    level_db: float = Field(default=0.0, ge=-120, le=12)
    pre_fader: bool = False


Breakpoints = list[Annotated[list[float], Field(min_length=2, max_length=2)]]
"""`[[time_s, value], ...]`: a list of pairs (YAML and JSON have no tuples)."""


class Automation(SpecModel):
    """Piecewise-linear breakpoints `[[time_s, value], ...]`, held before the first and after the last."""

    gain_db: Breakpoints | None = Field(default=None, min_length=1)
    pan: Breakpoints | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _check(self) -> "Automation":
        for name, limits in (("gain_db", (-120.0, 24.0)), ("pan", (-1.0, 1.0))):
            points = getattr(self, name)
            if points is None:
                continue
            times = [t for t, _ in points]
            if any(not 0 <= t <= 36000 for t in times):
                raise ValueError(f"{name}: breakpoint times must be in [0, 36000] s (got {times})")
            if any(b < a for a, b in zip(times, times[1:])):
                raise ValueError(f"{name}: breakpoint times must not decrease (got {times})")
            bad = [v for _, v in points if not limits[0] <= v <= limits[1]]
            if bad:
                raise ValueError(f"{name}: values must be in [{limits[0]}, {limits[1]}] (got {bad[0]})")
        return self


class Limiter(SpecModel):
    """Look-ahead true-peak limiter settings."""

    ceiling_dbtp: float = Field(default=-1.0, ge=-20, le=0)
    release_ms: float = Field(default=100.0, ge=1, le=2000)
    lookahead_ms: float = Field(default=5.0, ge=0.5, le=20)


class TonalMatch(SpecModel):
    """Nudge each song's long-term spectrum toward the album mean, bounded by `max_db`."""

    strength: float = Field(default=0.5, ge=0, le=1)
    max_db: float = Field(default=2.0, ge=0, le=6)

MAX_EQ_FREQ_RATIO = 0.45
"""EQ bands above 0.45 x the render rate are refused: the bilinear warp makes them meaningless."""
