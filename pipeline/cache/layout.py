"""Where cache entries live under the root, and the directory scans that list them.

Names are the only thing trusted from disk: a digest or key must be 32 lowercase
hex characters (so no caller-given name can leave the cache directory), and a
scan yields only files whose names fit, never temp files or strangers.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

KINDS = {"array": ".npy", "json": ".json", "blob": ".blob"}
"""Object kind -> file suffix."""

HEX32 = re.compile(r"[0-9a-f]{32}")
_OBJECT_NAME = re.compile(r"([0-9a-f]{32})(\.npy|\.json|\.blob)")
_SUFFIX_KIND = {suffix: kind for kind, suffix in KINDS.items()}


def check_hex(value: Any, what: str) -> str:
    """``value`` if it is a digest-shaped string, else ValueError (it would name a path)."""
    if not isinstance(value, str) or not HEX32.fullmatch(value):
        raise ValueError(f"cache: {what} must be 32 lowercase hex characters (got {value!r})")
    return value


def check_kind(kind: Any, what: str = "kind") -> str:
    """``kind`` if it is one of KINDS, else ValueError."""
    if kind not in KINDS:
        raise ValueError(f"cache: {what} must be one of {sorted(KINDS)} (got {kind!r})")
    return kind


@dataclass(frozen=True)
class Layout:
    """The paths of one cache root (nothing is created here)."""

    root: Path

    @property
    def objects_dir(self) -> Path:
        return self.root / "objects"

    @property
    def actions_dir(self) -> Path:
        return self.root / "actions"

    @property
    def leases_dir(self) -> Path:
        return self.root / "leases"

    @property
    def scratch_dir(self) -> Path:
        """Kernels' large outputs while they are written, before they move into objects/ (same file system)."""
        return self.root / "scratch"

    @property
    def file_memo_path(self) -> Path:
        return self.root / "memo" / "file-digests.json"

    @property
    def verified_memo_path(self) -> Path:
        """Objects verified by earlier builds, with the stat signature they were hashed at (objects.py)."""
        return self.root / "memo" / "verified-objects.json"

    def object_path(self, digest: str, kind: str = "array") -> Path:
        """``objects/ab/<digest><suffix>``; ValueError for a malformed digest or kind."""
        check_hex(digest, "digest")
        return self.objects_dir / digest[:2] / f"{digest}{KINDS[check_kind(kind)]}"

    def action_path(self, key: str) -> Path:
        """``actions/ab/<key>.json``; ValueError for a malformed key."""
        check_hex(key, "key")
        return self.actions_dir / key[:2] / f"{key}.json"


def disk_bytes(st: os.stat_result) -> int:
    """Bytes a file takes on disk: its allocated blocks, so holes (silence in an array) cost nothing; its
    length where the platform reports no blocks."""
    blocks = getattr(st, "st_blocks", None)
    return st.st_size if blocks is None else blocks * 512


class StoredObject(NamedTuple):
    """One object file found by a scan, with its stat at scan time."""

    path: Path
    digest: str
    kind: str
    stat: os.stat_result


def files(directory: Path, depth: int = 1) -> Iterator[Path]:
    """Regular files ``depth`` levels below ``directory`` (1: its own files); absent dirs are empty."""
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if depth == 1:
            if entry.is_file(follow_symlinks=False):
                yield Path(entry.path)
        elif entry.is_dir(follow_symlinks=False):
            yield from files(Path(entry.path), depth - 1)


def scan_objects(layout: Layout) -> Iterator[StoredObject]:
    """Every object file (a file removed during the scan is skipped)."""
    for path in files(layout.objects_dir, depth=2):
        match = _OBJECT_NAME.fullmatch(path.name)
        if match is None:
            continue
        with contextlib.suppress(FileNotFoundError):
            yield StoredObject(path, match.group(1), _SUFFIX_KIND[match.group(2)], os.stat(path))


def object_bytes(layout: Layout) -> int:
    """The total size of the object files, the cheap way (no Path per file: a third of ``scan_objects``'
    time): what the size limit checks after every build."""
    total = 0
    try:
        shards = [entry.path for entry in os.scandir(layout.objects_dir) if entry.is_dir(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for shard in shards:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError), os.scandir(shard) as entries:
            for entry in entries:
                if _OBJECT_NAME.fullmatch(entry.name):
                    with contextlib.suppress(FileNotFoundError):
                        total += disk_bytes(entry.stat(follow_symlinks=False))
    return total


def scan_actions(layout: Layout) -> Iterator[tuple[Path, str]]:
    """(path, key) of every action file."""
    for path in files(layout.actions_dir, depth=2):
        if path.suffix == ".json" and HEX32.fullmatch(path.stem):
            yield path, path.stem


def read_only(exc: OSError) -> bool:
    """Whether a write failed because this process may not write there (a read-only mount or shared cache):
    a fully cached build still works from such a cache, without a lease and without touching what it reads."""
    return exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)


def unlink_quietly(path: Path) -> bool:
    """Remove ``path``; False if it was already gone (a racing prune or release)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True
