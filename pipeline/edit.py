"""Change one value of a loaded album from Python (a notebook), validated as the CLI validates a spec.

`set_value(album, "songs.opening.stems.kick.gain_db", -2.5)` returns a new album; a value out of range, a name
nobody defines, or a routing that does not exist is a SpecError with the CLI's message, never a silently
rendered 400 dB gain (pydantic's `model_copy(update=...)` skips validation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .specs import Album, Problem, SpecError
from .specs.load import validate_album


def _where(path: str, index: int) -> str:
    return ".".join(path.split(".")[:index + 1])


def set_value(album: Album, path: str, value: Any) -> Album:
    """A copy of `album` with the field at the dotted `path` set to `value`, checked as a spec is. A song is
    named by its id or its index (`songs.0`), a stem, bus or target by its name; an unset block (a compressor)
    is created from the fields you set."""
    data = album.model_dump(mode="python")
    keys = path.split(".")
    node: Any = data
    for depth, name in enumerate(keys):
        key: str | int = name
        if isinstance(node, list):
            index = next((i for i, item in enumerate(node) if isinstance(item, dict) and item.get("id") == name),
                         int(name) if name.isdigit() and int(name) < len(node) else None)
            if index is None:
                raise SpecError([Problem(Path("<python>"), None, _where(path, depth), f"no song {name!r} here")])
            key = index
        elif not isinstance(node, dict):
            raise SpecError([Problem(Path("<python>"), None, _where(path, depth - 1), "has no fields to set")])
        if depth == len(keys) - 1:
            node[key] = value
        else:
            if isinstance(node, dict) and node.get(key) is None:
                node[key] = {}
            node = node[key]
    return validate_album(data)
