"""Where a spec's build and cache folders are by default: in its project, not in the current directory.

The project is the nearest folder, from the spec's own upward, that holds a `mixbuild.toml` (a marker, which
may be empty), else the spec's own folder. So the same spec built from anywhere reuses its cache and delivers
into the same `build/`, and nothing is left in the folder the command was typed in.
"""

from __future__ import annotations

from pathlib import Path

MARKER = "mixbuild.toml"


def project_root(spec: str | Path) -> Path:
    """The folder of the spec's project (absolute)."""
    folder = Path(spec).expanduser().absolute().parent
    for candidate in (folder, *folder.parents):
        if (candidate / MARKER).is_file():
            return candidate
    return folder


def default_out(spec: str | Path) -> Path:
    return project_root(spec) / "build"


def default_cache(spec: str | Path) -> Path:
    return project_root(spec) / "cache"
