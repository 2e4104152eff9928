"""Watch mode: rebuild whenever a spec or stem file changes, in one long-lived process.

A tweak then pays only for what it renders: imports, numba's start-up, loky workers and the verified-object
memo stay warm between builds. Files are polled (stat every `interval_s`), so it works the same on every
platform and network file system; a change is built once it has been stable for one interval (editors save
in steps).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .specs import Album, SpecError, load
from .specs.documents import read_document


def watched_paths(spec_path: Path, album: Album | None) -> list[Path]:
    """The album file, the song files it lists (even while the spec is invalid) and the stems of `album`."""
    paths = {spec_path.absolute()}
    doc = read_document(spec_path)
    songs = getattr(doc, "data", None)
    songs = songs.get("songs") if isinstance(songs, dict) else None
    for item in songs if isinstance(songs, list) else []:
        if isinstance(item, str) and item.strip() and "\0" not in item:
            paths.add((spec_path.parent / item).absolute())
    if album is not None:
        paths.update(Path(file) for song in album.songs for stem in song.stems.values()
                     for file in (stem.file, stem.right_file) if file is not None)
    return sorted(paths)


def _state(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns


def fingerprint(paths: Iterable[Path]) -> dict[str, tuple[int, int, int, int] | None]:
    """(mtime_ns, size, inode, ctime_ns) per path, None for a path that is missing or unreadable; the ctime
    catches a copy that keeps the size and sets the mtime back (`cp -p`, `rsync -t`)."""
    return {str(path): _state(path) for path in paths}


def _loaded(spec_path: Path) -> Album | None:
    """The album as the spec stands (None while it is invalid): which stems to watch from the start."""
    try:
        return load(spec_path)
    except SpecError:
        return None


def watch(spec_path: Path, build_once: Callable[[], Album | None], interval_s: float = 0.05,
          max_builds: int | None = None, sleep: Callable[[float], None] = time.sleep) -> int:
    """Build now, then again after every settled change to a watched file; returns the number of builds.

    `build_once` builds and reports (its own output), returning the loaded album or None when the spec was
    invalid: the last good album's stems stay watched, so fixing the spec or a stem triggers the next build.
    Files are fingerprinted before each build, so a save during a build triggers the next one.
    """
    album = _loaded(spec_path)
    seen = fingerprint(watched_paths(spec_path, album))  # stems too: a save during the first build is seen
    album = build_once() or album
    builds = 1
    while max_builds is None or builds < max_builds:
        paths = watched_paths(spec_path, album)
        seen = {str(p): seen[str(p)] if str(p) in seen else _state(p) for p in paths}  # stems are first seen now
        now = fingerprint(paths)
        while now == seen:
            sleep(interval_s)
            now = fingerprint(paths)
        while True:  # settle: build once the files stop changing
            sleep(interval_s)
            latest = fingerprint(paths)
            if latest == now:
                break
            now = latest
        seen = now
        album = build_once() or album
        builds += 1
    return builds
