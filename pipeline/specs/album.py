"""The album: songs in order, the mastering chain they share, and the delivery targets."""

from __future__ import annotations

from pydantic import Field

from .base import SampleRate, SpecModel
from .master import Master, Target
from .song import Name, Song

class AlbumSettings(SpecModel):
    """Everything in an album file except its song list."""

    title: str = Field(min_length=1, max_length=200, description="Album title: tags and the album file's name.")
    artist: str = Field(default="", max_length=200, description="Album artist, for the tags.")
    catalog: str | None = Field(default=None, pattern=r"^[0-9]{12,13}$", description="UPC/EAN.")
    sample_rate: SampleRate = Field(default=48000, description="Render rate; stems are resampled.")
    master: Master = Field(default_factory=Master, description="The mastering chain every song shares.")
    targets: dict[Name, Target] = Field(
        default_factory=lambda: {"streaming": Target(preset="streaming")}, min_length=1,
        description="Deliveries by folder name (streaming, cd, ...); default: streaming.")

class AlbumFile(AlbumSettings):
    """The album file as written: songs by path (relative to the album file) or inline."""

    songs: list[str | Song] = Field(min_length=1, max_length=500,
                                    description="In order: song spec paths (relative to this file) or inline songs.")

class Album(AlbumSettings):
    """A loaded album: every song validated, paths resolved."""

    songs: list[Song] = Field(min_length=1)

    def master_for(self, song: Song) -> Master:
        """The master chain a song uses: its own override, else the album's."""
        return song.master if song.master is not None else self.master

    def target_rate(self, target: Target) -> int:
        """The delivery rate of a target in Hz (the album's render rate when unset)."""
        return target.sample_rate or self.sample_rate
