"""A song: stems routed through buses into one stereo mixdown."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, StringConstraints

from .base import NAME_PATTERN, SpecModel
from .master import Master
from mixbuild.stages.params import BusStrip, Send, StemStrip

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]


def _send_from_level(value: object) -> object:
    """`sends: {plate: -12}` is shorthand for `{plate: {level_db: -12}}`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"level_db": value}
    return value


SendValue = Annotated[Send, BeforeValidator(_send_from_level, json_schema_input_type=Send | float)]


class _Routing(SpecModel):
    """Where a channel's signal goes: sends, its output bus, mute. The strip itself is a stage's params."""

    sends: dict[Name, SendValue] = Field(default_factory=dict, description="Bus name -> send (or its level in dB).")
    output: Name | None = Field(default=None, description="Bus to feed; none feeds the mixdown.")
    mute: bool = Field(default=False, description="Leave this channel out of the mix.")


class Stem(StemStrip, _Routing):
    """One source file with its channel strip."""

    file: str = Field(min_length=1, description="Audio file, relative to the file that lists it (with right_file: "
                                                "the left channel).")
    right_file: str | None = Field(
        default=None, min_length=1,
        description="The right channel, for a stereo stem bounced as two mono files (Kick.L.wav, Kick.R.wav) of the "
                    "same length and rate; relative to the file that lists it.")
    solo: bool = Field(default=False, description="When any stem is soloed, only soloed stems play.")


class Bus(BusStrip, _Routing):
    """A group or effect return; with a reverb or delay it returns the wet signal only."""


class Song(SpecModel):
    """One song: its stems, buses and mastering overrides."""

    title: str = Field(min_length=1, max_length=200, description="Song title: tags and the track file's name.")
    id: Name | None = Field(default=None, description="Node-id prefix; default: file name or title.")
    artist: str | None = Field(default=None, max_length=200, description="Track artist; default: the album's.")
    isrc: str | None = Field(default=None, pattern=r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$",
                             description="ISRC, 12 characters (CC-XXX-YY-NNNNN without dashes), for tags and CUE.")
    tempo_bpm: float | None = Field(default=None, ge=20, le=400, description="Tempo, for delays set in beats.")
    tail_s: float | None = Field(default=None, ge=0, le=60, description="Default: longest effect tail.")
    gap_s: float = Field(default=2.0, ge=0, le=60, description="Silence before the next song.")
    start_s: float | None = Field(
        default=None, ge=0,
        description="Where the song starts on its stems' broadcast-WAV timeline (seconds since midnight); a stem "
                    "with a bext time reference and no offset_s is placed relative to it. Default: the earliest "
                    "time reference among the stems.")
    stems: dict[Name, Stem] = Field(min_length=1, max_length=10000, description="Source files by stem name.")
    buses: dict[Name, Bus] = Field(default_factory=dict, max_length=1000,
                                   description="Groups and effect returns by bus name.")
    master: Master | None = Field(default=None, description="Overrides the album's master.")
