"""A song: stems routed through buses into one stereo mixdown."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, StringConstraints

from .base import NAME_PATTERN, SpecModel
from .master import Master
from stages.params import Automation, Compressor, Delay, EqBand, Reverb, Send

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]


def _send_from_level(value: object) -> object:
    """`sends: {plate: -12}` is shorthand for `{plate: {level_db: -12}}`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"level_db": value}
    return value


SendValue = Annotated[Send, BeforeValidator(_send_from_level)]


class _Channel(SpecModel):
    """What stems and buses share: fader, pan, width, processing, sends and routing."""

    gain_db: float = Field(default=0.0, ge=-120, le=24)
    pan: float = Field(default=0.0, ge=-1, le=1, description="-1 left, 0 centre, +1 right.")
    width: float = Field(default=1.0, ge=0, le=2, description="Mid/side width: 0 mono, 1 as is.")
    eq: list[EqBand] = Field(default_factory=list, max_length=32)
    compressor: Compressor | None = None
    sends: dict[Name, SendValue] = Field(default_factory=dict)
    output: Name | None = Field(default=None, description="Bus to feed; none feeds the mixdown.")
    mute: bool = False


class Stem(_Channel):
    """One source file with its channel strip."""

    file: str = Field(min_length=1, description="Audio file, relative to the file that lists it.")
    offset_s: float = Field(default=0.0, ge=0, le=36000, description="Start time in the song.")
    solo: bool = False
    polarity_invert: bool = False
    automation: Automation | None = None


class Bus(_Channel):
    """A group or effect return; with a reverb or delay it returns the wet signal only."""

    reverb: Reverb | None = None
    delay: Delay | None = None


class Song(SpecModel):
    """One song: its stems, buses and mastering overrides."""

    title: str = Field(min_length=1, max_length=200)
    id: Name | None = Field(default=None, description="Node-id prefix; default: file name or title.")
    artist: str | None = Field(default=None, max_length=200)
    isrc: str | None = Field(default=None, pattern=r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$")
    tempo_bpm: float | None = Field(default=None, ge=20, le=400)
    tail_s: float | None = Field(default=None, ge=0, le=60, description="Default: longest effect tail.")
    gap_s: float = Field(default=2.0, ge=0, le=60, description="Silence before the next song.")
    stems: dict[Name, Stem] = Field(min_length=1, max_length=10000)
    buses: dict[Name, Bus] = Field(default_factory=dict, max_length=1000)
    master: Master | None = Field(default=None, description="Overrides the album's master.")
