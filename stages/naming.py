"""The names of delivered files, declared once: the album export writes them and the spec check refuses an
album whose files would collide."""

from __future__ import annotations

import re

SAFE_NAME_BYTES = 120
"""UTF-8 bytes of a title in a file name: with `NN - `, the extension and a temp-file suffix it stays
well under the 255-byte name limit of common file systems."""


def safe_name(text: str) -> str:
    """A file-name-safe version of a title: no separators, control characters or leading dots,
    at most SAFE_NAME_BYTES bytes of UTF-8 (cut on a character boundary)."""
    cleaned = re.sub(r'[\x00-\x1f\x7f/\\:*?"<>|]+', "_", text).strip().lstrip(".").strip()
    cut = cleaned.encode("utf-8")[:SAFE_NAME_BYTES].decode("utf-8", errors="ignore").strip()
    return cut or "untitled"


def track_file_stem(number: int, title: str) -> str:
    """A track's file name without its extension: `01 - Opening`."""
    return f"{number:02d} - {safe_name(title)}"


def album_file_stem(title: str) -> str:
    """The album file's (and its CUE sheet's) name without the extension: the album title."""
    return safe_name(title)


MANIFEST_SUFFIX = ".manifest.json"
"""An album's manifest is `<album title>.manifest.json`: one per album, so that two albums delivered into one
folder each keep theirs (and the files it lists)."""


def manifest_name(title: str) -> str:
    """The album's manifest file name in a target folder: `First Light.manifest.json`."""
    return f"{album_file_stem(title)}{MANIFEST_SUFFIX}"
