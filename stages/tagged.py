"""Stage `tagged` (<song>/tagged/<target>): one delivery file with its tags.

Tags are what a metadata edit changes, so they are written here, into a copy of the export's untagged file,
not by `export`: a retitled song or a new comment re-tags its files instead of dithering, encoding and
measuring them again (`export`'s key has no tags). The samples pass through, and so do the loudness facts
`export` measured from them; the file's own facts (digest, header) are read here, from the tagged file.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .delivery import FormatName
from .export import stream_facts, tag_file
from .params import SpecModel
from .registry import Blob, scratch_file, stage


class TaggedParams(SpecModel):
    """The file's format and its tags (title, artist, album, track number, ISRC and the target's own)."""

    format: FormatName
    tags: dict[str, str] = {}


@dataclass(frozen=True)
class TaggedInputs:
    export: dict[str, Any]
    """The export node's untagged file (a path), its loudness facts and, for lossless files, its sequence
    measures."""


@stage("tagged", "1")
def render_tagged(inputs: TaggedInputs, p: TaggedParams) -> dict[str, Any]:
    path = scratch_file(f".{p.format}")
    shutil.copyfile(Path(inputs.export["file"]), path)
    tag_file(path, p.format, p.tags)
    tagged: dict[str, Any] = {"file": Blob(path, f".{p.format}"),
                              "facts": {**stream_facts(path), **inputs.export["facts"]}}
    if "sequence" in inputs.export:
        tagged["sequence"] = inputs.export["sequence"]
    return tagged
