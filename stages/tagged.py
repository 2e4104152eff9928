"""Stage `tagged` (<song>/tagged/<target>): one delivery file with its tags.

Tags are what a metadata edit changes, so they are written here, not by `export`: a retitled song or a new
comment re-tags its files instead of dithering, encoding and measuring them again (`export`'s key has no
tags). The samples pass through, and so do the loudness facts `export` measured from them; the file's own
facts (digest, header) are read here. A WAV is kept as its pieces (its tagged header and tags around the
export's PCM, which the cache holds already), so a tagged song costs no cache space and no copy of its
audio; other formats are a tagged copy of the export's file.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .delivery import FormatName
from .export import stream_facts, tag_file
from .params import SpecModel
from .registry import Blob, SplicedFile, scratch_file, stage


class TaggedParams(SpecModel):
    """The file's format and its tags (title, artist, album, track number, ISRC and the target's own)."""

    format: FormatName
    tags: dict[str, str] = {}


@dataclass(frozen=True)
class TaggedInputs:
    export: dict[str, Any]
    """The export node's untagged file (a path), its loudness facts and, for lossless files, its sequence
    measures."""


def wav_pieces(export: Path, skeleton: Path, tags: dict[str, str]) -> tuple[SplicedFile, str] | None:
    """The export's WAV tagged, as pieces (the tagged head and tail around the export's PCM range), and its
    sha256; `skeleton` receives the tagged file with a hole for its PCM, for the header's facts. None where
    the export is not a plain RIFF/WAVE (an RF64 file is copied and tagged instead)."""
    from .wav import around_data, skeleton_of

    try:
        offset, count = skeleton_of(export, skeleton)
    except ValueError:
        return None
    tag_file(skeleton, "wav", tags)
    head, tail = around_data(skeleton, count)
    return SplicedFile(head, [(export, offset, count)], tail, ".wav").measured()


@stage("tagged", "2")
def render_tagged(inputs: TaggedInputs, p: TaggedParams) -> dict[str, Any]:
    export, path = Path(inputs.export["file"]), scratch_file(f".{p.format}")
    pieces = wav_pieces(export, path, p.tags) if p.format == "wav" else None
    if pieces is None:
        shutil.copyfile(export, path)
        tag_file(path, p.format, p.tags)
    file: Blob | SplicedFile = Blob(path, f".{p.format}") if pieces is None else pieces[0]
    tagged: dict[str, Any] = {"file": file,
                              "facts": {**stream_facts(path, None if pieces is None else pieces[1]),
                                        **inputs.export["facts"]}}
    if "sequence" in inputs.export:
        tagged["sequence"] = inputs.export["sequence"]
    return tagged
