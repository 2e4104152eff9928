"""Cross-field checks pydantic cannot do alone: routing, rates, tempo, and the audio files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import soundfile

from .documents import Document, PathKey
from .errors import Problem
from .master import Master, Target
from mixbuild.stages.formats import LOSSY_RATES_HZ
from mixbuild.stages.naming import album_file_stem, track_file_stem
from mixbuild.stages.params import EqBand
from mixbuild.stages.dsp.checks import MAX_EQ_FREQ_RATIO, MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ
from .song import Song

MAX_STEM_CHANNELS = 2
MAX_SONG_S = 3600.0
"""Longest song (last stem's end): longer renders would not fit in memory."""


@dataclass(frozen=True)
class Source:
    """Where a validated song came from, to point problems at the right file and line."""

    doc: Document
    prefix: PathKey
    base_dir: Path

    def problem(self, key: PathKey, message: str) -> Problem:
        full = self.prefix + key
        return Problem(self.doc.path, self.doc.line(full), ".".join(map(str, full)), message)


def check_song(song: Song, source: Source, sample_rate_hz: int) -> Iterator[Problem]:
    """Every cross-reference and file problem of one song."""
    yield from _check_routing(song, source)
    yield from _check_effects(song, source, sample_rate_hz)
    yield from _check_stem_files(song, source)


def check_master(master: Master, source: Source, key: PathKey, sample_rate_hz: int) -> Iterator[Problem]:
    """EQ bands of a master chain must sit below 0.45 of the render rate."""
    yield from _check_eq(master.eq, source, key + ("eq",), sample_rate_hz)


def check_targets(targets: dict[str, Target], source: Source, sample_rate_hz: int) -> Iterator[Problem]:
    """Opus and MP3 deliver at a few rates only: say which, rather than let the encoder fail. Target names
    are folder names: two that differ only in case are one folder on macOS and Windows."""
    seen: dict[str, str] = {}
    for name in targets:
        other = seen.setdefault(name.casefold(), name)
        if other != name:
            yield source.problem(("targets", name), f"names the same folder as target {other!r} on case-insensitive "
                                                    "file systems (macOS, Windows); rename one")
    for name, target in targets.items():
        rates = LOSSY_RATES_HZ.get(target.format)
        rate = target.sample_rate or sample_rate_hz
        if rates and rate not in rates:
            allowed = " or ".join(str(r) for r in rates)
            source_of_rate = "" if target.sample_rate else " (the album's rate; set the target's sample_rate)"
            yield source.problem(("targets", name, "sample_rate" if target.sample_rate else "format"),
                                 f"{target.format} delivers at {allowed} Hz{source_of_rate} (got {rate})")


def check_file_names(title: str, songs: list[Song], source: Source) -> Iterator[Problem]:
    """The album file never takes a track file's name (it would replace the track in the target's folder),
    compared as a case-insensitive file system compares them."""
    album = album_file_stem(title)
    for number, song in enumerate(songs, start=1):
        if track_file_stem(number, song.title).casefold() == album.casefold():
            yield source.problem(("title",), f"the album file would be named {album!r}, as track {number}'s file "
                                             "is; choose another album title")


def _check_routing(song: Song, source: Source) -> Iterator[Problem]:
    buses = song.buses
    allowed = f"one of the song's buses ({', '.join(buses) or 'none defined'})"
    for group, channels in (("stems", song.stems), ("buses", buses)):
        for name, channel in channels.items():
            if channel.output is not None and channel.output not in buses:
                yield source.problem((group, name, "output"), f"must name {allowed} (got {channel.output!r})")
            if group == "buses" and channel.output == name:
                yield source.problem((group, name, "output"), f"a bus cannot feed itself (got {name!r})")
            for target in channel.sends:
                if target not in buses:
                    yield source.problem((group, name, "sends", target), f"send must name {allowed}")
                elif group == "buses" and target == name:
                    yield source.problem((group, name, "sends", target), "a bus cannot send to itself")
    cycle = find_bus_cycle(song)
    if cycle:
        yield source.problem(("buses", cycle[0]), f"routing cycle: {' -> '.join(cycle)}")


def bus_edges(song: Song) -> dict[str, list[str]]:
    """Bus → buses it feeds (its output and its sends), in a fixed order."""
    return {
        name: [t for t in ([bus.output] if bus.output else []) + sorted(bus.sends) if t in song.buses and t != name]
        for name, bus in song.buses.items()
    }


def find_bus_cycle(song: Song) -> list[str] | None:
    """A bus routing cycle as a closed path (`a -> b -> a`), or None when the graph is acyclic."""
    edges = bus_edges(song)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def _check_effects(song: Song, source: Source, sample_rate_hz: int) -> Iterator[Problem]:
    for group, channels in (("stems", song.stems), ("buses", song.buses)):
        for name, channel in channels.items():
            yield from _check_eq(channel.eq, source, (group, name, "eq"), sample_rate_hz)
    for name, bus in song.buses.items():
        if bus.delay is not None and bus.delay.beats is not None and song.tempo_bpm is None:
            yield source.problem(("buses", name, "delay", "beats"),
                                 "a delay in beats needs the song's tempo_bpm (or give time_ms)")
    if song.master is not None:
        yield from check_master(song.master, source, ("master",), sample_rate_hz)


def _check_eq(bands: list[EqBand], source: Source, key: PathKey, sample_rate_hz: int) -> Iterator[Problem]:
    limit_hz = MAX_EQ_FREQ_RATIO * sample_rate_hz
    for index, band in enumerate(bands):
        if band.freq_hz >= limit_hz:
            yield source.problem(key + (index, "freq_hz"),
                                 f"must be < {limit_hz:g} (0.45 x the {sample_rate_hz} Hz render rate) "
                                 f"(got {band.freq_hz:g})")


def _check_stem_files(song: Song, source: Source) -> Iterator[Problem]:
    """Each stem file exists and its header decodes; mono or stereo with at least one frame; a pair of files
    (file, right_file) is two mono files of one length and rate."""
    for name, stem in song.stems.items():
        infos = []
        for field, file in (("file", stem.file), ("right_file", stem.right_file)):
            if file is None:
                continue
            key, path = ("stems", name, field), source.base_dir / file
            problem, info = _audio_file(path)
            if problem is not None or info is None:
                yield source.problem(key, problem or f"does not decode as audio: {path}")
                continue
            infos.append(info)
            yield from (source.problem(key, p) for p in _audio_problems(info, stem.offset_s, path))
        if stem.right_file is not None and len(infos) == 2:
            left, right = infos
            key = ("stems", name, "right_file")
            if left.channels != 1 or right.channels != 1:
                yield source.problem(key, f"a pair of files is two mono files (file has {left.channels} channel(s), "
                                          f"right_file {right.channels})")
            elif (left.frames, left.samplerate) != (right.frames, right.samplerate):
                yield source.problem(key, f"a pair of files has one length and rate (file: {left.frames} frames at "
                                          f"{left.samplerate} Hz, right_file: {right.frames} at {right.samplerate} Hz)")


def _audio_file(path: Path) -> tuple[str | None, Any]:
    """(why `path` is no readable audio file, or None; its soundfile info when it is one)."""
    try:
        path.stat()
    except FileNotFoundError:
        return f"audio file not found: {path}", None
    except (OSError, ValueError) as err:  # a name too long, a loop of links, a NUL in the path
        return f"cannot open ({getattr(err, 'strerror', None) or err}): {_short(path)}", None
    if not path.exists():
        return f"audio file not found: {path}", None
    if path.is_dir():
        return f"is a directory, expected an audio file: {path}", None
    if not path.is_file():  # reading a FIFO or a device could wait forever: refused before it is opened
        return f"is not a regular file (a FIFO, device or socket?), expected an audio file: {path}", None
    try:
        return None, soundfile.info(str(path))
    except (RuntimeError, soundfile.LibsndfileError, OSError) as err:
        reason = str(err).split(": ", 1)[-1].strip() or "unknown format"
        return f"does not decode as audio ({reason}): {path}", None


def _audio_problems(info: Any, offset_s: float, path: Path) -> Iterator[str]:
    """What is wrong with a decodable stem file: no frames, too many channels, a rate out of range, an end past
    the longest song."""
    if info.frames <= 0:
        yield f"has no audio frames: {path}"
    if info.channels > MAX_STEM_CHANNELS:
        yield f"must be mono or stereo (got {info.channels} channels): {path}"
    low, high = MIN_SAMPLE_RATE_HZ, MAX_SAMPLE_RATE_HZ
    if not low <= info.samplerate <= high:
        yield f"sample rate must be {low}..{high} Hz (got {info.samplerate} Hz): {path}"
    elif info.frames > 0 and offset_s + info.frames / info.samplerate > MAX_SONG_S:
        yield (f"ends at {offset_s + info.frames / info.samplerate:.0f} s (offset_s + length); a song may last at "
               f"most {MAX_SONG_S:.0f} s: {path}")


def _short(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 200 else text[:100] + "..." + text[-60:]
