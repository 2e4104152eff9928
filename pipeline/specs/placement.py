"""Broadcast-WAV placement: a stem bounced from a DAW carries its place on the session's timeline (the bext
chunk's time reference), and is placed there unless its spec gives an `offset_s` of its own.

Offsets are relative to the song's `start_s` on that timeline, by default the earliest time reference among
its stems, so that a song whose stems were bounced from 00:01:04 starts at its first sound, not an hour in.
"""

from __future__ import annotations

from pathlib import Path

from mixbuild.stages.wav import bext_start_s

from .checks import Source
from .errors import Problem
from .song import Song


def placed(song: Song, source: Source) -> tuple[Song, list[Problem]]:
    """The song with each stem that has no `offset_s` of its own at its file's time reference (stem files are
    absolute by now), and a problem for each that would start before the song's `start_s`."""
    starts = {name: bext_start_s(Path(stem.file)) for name, stem in song.stems.items()
              if "offset_s" not in stem.model_fields_set}
    timeline = {name: start_s for name, start_s in starts.items() if start_s is not None}
    if not timeline:
        return song, []
    song_start_s = song.start_s if song.start_s is not None else min(timeline.values())
    problems = [source.problem(("stems", name, "file"),
                               f"its broadcast-WAV time reference places it at {start_s:.3f} s, before the song's "
                               f"start_s {song_start_s:.3f} s (lower start_s, or give the stem an offset_s)")
                for name, start_s in timeline.items() if start_s < song_start_s]
    stems = {name: stem.model_copy(update={"offset_s": timeline[name] - song_start_s}) if name in timeline else stem
             for name, stem in song.stems.items()}
    return song.model_copy(update={"stems": stems}), problems
