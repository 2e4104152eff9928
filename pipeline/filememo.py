"""Source-file digests memoised across processes, so an unchanged stem is not re-read by every build."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .atomic import atomic_write_json
from .digest import digest_file

RACY_WINDOW_NS = 2_000_000_000
"""A file modified less than this long before it was hashed is not memoised.

A write in the same timestamp tick as our read could change the bytes without
changing (size, mtime_ns); git calls these "racily clean" entries. 2 s covers
coarse filesystems (FAT: 2 s, HFS+: 1 s); a fresh file is simply re-read once."""


def stat_signature(st: os.stat_result) -> dict[str, int]:
    """What a change to a file changes: size, mtime, inode, and ctime, which no user tool can set back (an
    in-place edit that keeps the size and restores the mtime, as `touch -d` or `rsync -t` do, still moves it)."""
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino, "ctime_ns": st.st_ctime_ns}


class FileDigestMemo:
    """Digests of files memoised on (realpath, size, mtime_ns, inode, ctime_ns) in a JSON file.

    Unchanged source files are not re-read, in this process or the next (once `flush` wrote what this one
    learned: one write per batch, not per file, so memoising N new files costs O(N)). The memo is only a
    cache: a corrupt or foreign memo file is ignored and rewritten; concurrent processes merge their entries
    on write (atomic replace, last writer wins for a given path). Files modified within RACY_WINDOW_NS of
    being hashed, or changed while being read, are not memoised.
    """

    VERSION = 2

    def __init__(self, memo_path: str | os.PathLike[str]) -> None:
        self.memo_path = Path(memo_path)
        self._entries: dict[str, dict[str, Any]] | None = None
        self._learned: dict[str, dict[str, Any]] = {}

    def _read_disk(self) -> dict[str, dict[str, Any]]:
        try:
            doc = json.loads(self.memo_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # missing, unreadable, or not JSON: start afresh
            return {}
        if not isinstance(doc, dict) or doc.get("version") != self.VERSION:
            return {}
        entries = doc.get("entries")
        if not isinstance(entries, dict):
            return {}
        return {k: v for k, v in entries.items() if isinstance(v, dict)}

    def _entries_now(self) -> dict[str, dict[str, Any]]:
        if self._entries is None:
            self._entries = self._read_disk()
        return self._entries

    def digest(self, path: str | os.PathLike[str]) -> str:
        """Digest of the file's bytes; read only if (size, mtime_ns, inode) changed."""
        real = os.path.realpath(path)
        before = os.stat(real)
        sig = stat_signature(before)
        entry = self._entries_now().get(real)
        if entry is not None and isinstance(entry.get("digest"), str):
            if all(entry.get(k) == v for k, v in sig.items()):
                return entry["digest"]
        started_ns = time.time_ns()
        digest = digest_file(real)
        after = stat_signature(os.stat(real))
        racy = started_ns - before.st_mtime_ns < RACY_WINDOW_NS
        if after == sig and not racy:
            self._remember(real, {**sig, "digest": digest})
        return digest

    def digest_all(self, paths: Iterable[str], threads: int) -> None:
        """Digest the files not memoised yet on up to `threads` threads (the reads and xxh3 release the GIL), so
        that each later `digest` is a lookup: a cold build's plan reads its sources side by side. A file that
        cannot be read is left for `digest` to report, and one saved within RACY_WINDOW_NS (a stem just
        tweaked) for `digest` to read once."""
        self._entries_now()  # loaded here, before the threads share it
        unique = sorted(set(paths))
        if threads < 2 or len(unique) < 2:
            return  # `digest` reads each as the plan asks for it

        def quietly(path: str) -> None:
            with contextlib.suppress(OSError):
                if time.time_ns() - os.stat(path).st_mtime_ns >= RACY_WINDOW_NS:  # else not memoised: read twice
                    self.digest(path)

        with ThreadPoolExecutor(min(threads, len(unique)), thread_name_prefix="mixbuild-digest") as pool:
            list(pool.map(quietly, unique))

    def record(self, path: str | os.PathLike[str], signature: dict[str, int], digest: str) -> None:
        """Memoise a digest this process knows without reading the file (it wrote those bytes), for the file
        as `signature` (`stat_signature`) found it; a later change to the file changes its signature."""
        self._remember(os.path.realpath(path), {**signature, "digest": digest})

    def _remember(self, real: str, entry: dict[str, Any]) -> None:
        self._entries_now()[real] = entry
        self._learned[real] = entry

    def flush(self) -> None:
        """Write what this process learned, merged with what others memoised meanwhile (one atomic write)."""
        if not self._learned:
            return
        merged = self._read_disk()
        merged.update(self._learned)
        self._entries, self._learned = merged, {}
        try:
            atomic_write_json(self.memo_path, {"version": self.VERSION, "entries": merged}, fsync=False)
        except OSError:  # read-only location: the memo is an optimisation, never an error
            pass
