"""`mixbuild init`: a commented spec from a folder of stems, as a DAW exports them.

One stem per audio file; `Kick.L.wav` + `Kick.R.wav` (also `_L`/`_R`, ` L`/` R`, `-L`/`-R`) become one
stereo stem (`file` + `right_file`); stems whose names share a family (kick, snare, hat, tom, overhead ->
drums; vox, vocal -> vocals; ...) go onto that family's bus when it has two or more; a broadcast-WAV
time reference is left to the loader, which places the stem there (`specs/placement.py`), and shown in a
comment. A folder of song folders gives an album with one song per folder. The spec is written as text
(YAML with comments) and loaded back before it is kept: what `init` writes validates.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import soundfile

from mixbuild.stages.wav import bext_start_s

AUDIO_SUFFIXES = (".wav", ".wave", ".bwf", ".flac", ".aif", ".aiff", ".ogg", ".mp3")
"""What init takes for a stem file (formats the stem node decodes)."""

PAIR = re.compile(r"^(?P<base>.+?)(?P<sep>[ ._-])(?P<side>[LRlr])$")
"""A file name's stem ending in its channel side: `Kick.L`, `Kick_R`, `Kick L`, `Kick-R`."""

FAMILIES = {
    "drums": ("kick", "kik", "bd", "snare", "snr", "sd", "hat", "hh", "hihat", "tom", "overhead", "oh", "room",
              "cymbal", "ride", "crash", "drum", "perc"),
    "vocals": ("vox", "vocal", "voc", "bv", "bgv", "backing", "harmony", "choir", "lead vox"),
    "guitars": ("gtr", "guitar", "gt"),
    "keys": ("keys", "key", "piano", "pno", "synth", "organ", "rhodes", "pad", "wurli"),
    "bass": ("bass", "sub"),
}
"""Bus name -> the words of a stem name that put it on that bus (checked in this order, whole words)."""


@dataclass(frozen=True)
class StemFile:
    """One stem as init found it: its name, its file(s), and what the comment says about it."""

    name: str
    file: Path
    right_file: Path | None
    channels: int
    rate_hz: int
    start_s: float | None


class InitError(ValueError):
    """The folder holds nothing init can use (one line)."""


def audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def _name(text: str, taken: set[str]) -> str:
    """A stem or bus name the spec accepts (letters, digits, `_.-`), unique among `taken`."""
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.-")[:56] or "stem"
    if not base[0].isalnum():
        base = "s" + base
    name, n = base, 2
    while name.lower() in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name.lower())
    return name


def find_stems(folder: Path) -> tuple[list[StemFile], list[str]]:
    """The stems in `folder` (pairs joined) and one line per file left out, with why."""
    files = audio_files(folder)
    by_stem = {p.stem: p for p in files}
    stems: list[StemFile] = []
    skipped: list[str] = []
    used: set[Path] = set()
    taken: set[str] = set()
    for path in files:
        if path in used:
            continue
        match = PAIR.match(path.stem)
        partner = None
        if match and match["side"].upper() == "L":
            partner = by_stem.get(f"{match['base']}{match['sep']}{'R' if match['side'] == 'L' else 'r'}")
        try:
            info = soundfile.info(str(path))
            right = soundfile.info(str(partner)) if partner is not None else None
        except (RuntimeError, soundfile.LibsndfileError, OSError) as err:
            skipped.append(f"{path.name}: does not decode as audio ({str(err).split(': ', 1)[-1].strip()})")
            continue
        paired = (right is not None and partner is not None and info.channels == right.channels == 1
                  and (info.frames, info.samplerate) == (right.frames, right.samplerate))
        if not paired and info.channels > 2:
            skipped.append(f"{path.name}: {info.channels} channels (a stem is mono or stereo)")
            continue
        if paired and partner is not None and match is not None:
            used.add(partner)
            stems.append(StemFile(_name(match["base"], taken), path, partner, 2, info.samplerate, bext_start_s(path)))
        else:
            stems.append(StemFile(_name(path.stem, taken), path, None, info.channels, info.samplerate,
                                  bext_start_s(path)))
    return stems, skipped


def family(name: str) -> str | None:
    """The bus a stem named `name` belongs on by its words (`Kick In` -> drums), None if no family claims it."""
    words = set(re.split(r"[^a-z]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower())) - {""}
    for bus, keys in FAMILIES.items():
        if words & set(keys) or any(name.lower().startswith(key) for key in keys if len(key) > 3):
            return bus
    return None


def _q(text: str) -> str:
    """A YAML double-quoted scalar."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _timecode(seconds: float) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours):02d}:{int(minutes):02d}:{secs:06.3f}"


def song_lines(title: str, stems: list[StemFile], spec_dir: Path, indent: str) -> list[str]:
    """A song's YAML lines (title, stems with comments, buses), each prefixed by `indent`."""
    def rel(path: Path) -> str:
        return Path(_relpath(path, spec_dir)).as_posix()

    families = {stem.name: family(stem.name) for stem in stems}
    members = [bus for bus in families.values() if bus is not None]
    buses = {bus for bus in members if members.count(bus) >= 2}
    earliest = min((s.start_s for s in stems if s.start_s is not None), default=None)
    lines = [f"title: {_q(title)}", "stems:"]
    for stem in stems:
        notes = [f"{'stereo pair' if stem.right_file else ('mono' if stem.channels == 1 else 'stereo')}, "
                 f"{stem.rate_hz} Hz"]
        if stem.start_s is not None and earliest is not None:
            notes.append(f"bext {_timecode(stem.start_s)}: placed at {stem.start_s - earliest:.3f} s")
        fields = [f"file: {_q(rel(stem.file))}"]
        if stem.right_file is not None:
            fields.append(f"right_file: {_q(rel(stem.right_file))}")
        fields.append("gain_db: 0.0")
        if families[stem.name] in buses:
            fields.append(f"output: {families[stem.name]}")
        lines.append(f"  {stem.name}: {{{', '.join(fields)}}}  # {'; '.join(notes)}")
    if buses:
        lines.append("buses:                      # groups by name; set gain_db, eq, compressor here")
        lines += [f"  {bus}: {{gain_db: 0.0}}" for bus in sorted(buses)]
    return [indent + line for line in lines]


def _relpath(path: Path, start: Path) -> str:
    return os.path.relpath(path.resolve(), start.resolve())


HEADER = """\
# Written by `mixbuild init` from {source}: edit it, then `mixbuild build {spec}`.
# Every stem starts at gain 0 dB and centre pan; fields carry their units (gain_db, pan, offset_s).
# A stem with a broadcast-WAV time reference is placed at it (relative to the song's earliest one);
# give it an offset_s to place it yourself. `mixbuild schema` lists every field.
"""


def spec_text(source: Path, spec: Path) -> tuple[str, list[str]]:
    """The spec for the stems in `source` (a song, or an album of song folders); the files left out."""
    if audio_files(source):
        stems, skipped = find_stems(source)
        if not stems:
            raise InitError(f"{source}: no audio file there decodes as a mono or stereo stem")
        body = song_lines(source.resolve().name, stems, spec.parent, "")
        body.append("# A song spec builds the streaming target; an album spec (songs: [this file]) sets others.")
        return HEADER.format(source=source, spec=spec) + "\n".join(body) + "\n", skipped
    folders = sorted(p for p in source.iterdir() if p.is_dir() and audio_files(p))
    if not folders:
        raise InitError(f"{source}: holds no audio files (wav, flac, aiff, ogg, mp3), nor folders of them")
    lines = [f"title: {_q(source.resolve().name)}", "targets: {streaming: {preset: streaming}}   # also: cd, "
             "broadcast, vinyl", "songs:"]
    skipped_all: list[str] = []
    for folder in folders:
        stems, skipped = find_stems(folder)
        skipped_all += [f"{folder.name}/{line}" for line in skipped]
        if stems:
            song = song_lines(folder.name, stems, spec.parent, "    ")
            lines.append("  - " + song[0].strip())
            lines += song[1:]
    return HEADER.format(source=source, spec=spec) + "\n".join(lines) + "\n", skipped_all
