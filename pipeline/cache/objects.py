"""Content-addressed objects: stored once by digest, verified before they are served.

An object whose file is missing or whose bytes do not match its digest is never
served: ``object_status`` says "missing" or "corrupt" and the executor
re-renders. Verifying means hashing the object (xxh3 ~18 GB/s: ~7 ms for a
115 MB five-minute stereo track once it is in the page cache; a cold read from
disk costs the read). Verified objects are memoised per process on
(path, size, mtime_ns, ctime_ns, inode), so a hit checked twice is hashed once.
Objects are only ever replaced (new inode), never written in place, so the memo
can only be fooled by an in-place edit in the same timestamp tick as the
verification. Builds and plans keep the memo across processes (``save_verified``,
``load_verified``: ``memo/verified-objects.json``), so a no-op rebuild does not
re-read the cache; ``cache verify`` re-hashes everything, whatever the memo says
(a disk's silent bit rot moves no timestamp).

Blobs (encoded files: a WAV export, a cue sheet) are referenced from JSON
objects as ``{"blob": <digest>, ...}`` at any depth; a JSON object stands or
falls with its blobs (see ``actions.check_action`` and ``prune``).

Touching an object (setting its mtime to now) marks it used: mtime is the LRU
clock that prune evicts by.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path


from mixbuild.pipeline.atomic import atomic_write_json
from mixbuild.pipeline.digest import digest_file, digest_npy_file

from .layout import HEX32

Status = tuple[str, str]
"""("ok" | "missing" | "corrupt", reason)."""

# path -> (size, mtime_ns, ctime_ns, inode, digest) of objects verified by this process
_VERIFIED: dict[str, tuple[int, int, int, int, str]] = {}


def clear_verified_memo() -> None:
    """Forget which objects this process has verified (as a new process would)."""
    _VERIFIED.clear()


def forget_verified(path: Path | str) -> None:
    """Drop one object from the memo (it was deleted)."""
    _VERIFIED.pop(str(path), None)


VERIFIED_MEMO_VERSION = 1


def load_verified(memo_path: Path, root: Path) -> None:
    """Add to this process's memo the objects under `root` that earlier processes verified (`save_verified`):
    an entry vouches only while the file's size, mtime, ctime and inode are the ones it was hashed with, so
    anything written into an object since (which moves its ctime) is hashed again. A missing or garbled
    memo vouches for nothing."""
    try:
        doc = json.loads(memo_path.read_bytes())
    except (OSError, ValueError):
        return
    entries = doc.get("entries") if isinstance(doc, dict) and doc.get("version") == VERIFIED_MEMO_VERSION else None
    if not isinstance(entries, dict):
        return
    for relative, entry in entries.items():
        if (isinstance(relative, str) and isinstance(entry, list) and len(entry) == 5
                and all(type(v) is int for v in entry[:4]) and isinstance(entry[4], str)):
            _VERIFIED.setdefault(str(root / relative), (entry[0], entry[1], entry[2], entry[3], entry[4]))


def save_verified(memo_path: Path, root: Path) -> None:
    """Record the verified objects under `root` whose files still carry the signature they were verified
    with, merged with what other processes recorded; one atomic write. A read-only cache keeps no memo."""
    load_verified(memo_path, root)  # what others recorded meanwhile (ours win for the same path)
    prefix = str(root) + os.sep
    entries = {}
    for path, entry in _VERIFIED.items():
        if not path.startswith(prefix):
            continue
        try:
            current = _signature(os.stat(path))
        except OSError:  # pruned or evicted since
            continue
        if current == entry[:4]:
            entries[path[len(prefix):]] = list(entry)
    with contextlib.suppress(OSError):
        atomic_write_json(memo_path, {"version": VERIFIED_MEMO_VERSION, "entries": entries}, fsync=False)


def _signature(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def remember_written(path: Path, digest: str) -> None:
    """We just wrote these bytes from a value with this digest: no need to re-read them."""
    with contextlib.suppress(OSError):
        _VERIFIED[str(path)] = (*_signature(os.stat(path)), digest)


def touch(path: Path) -> None:
    """Mark an object used now (the LRU clock); keep its verified status across the touch."""
    key = str(path)
    try:
        before = os.stat(path)
        os.utime(path)
        after = os.stat(path)
    except OSError:  # read-only cache or a racing prune: nothing to mark
        return
    known = _VERIFIED.get(key)
    if known is not None and known[:4] == _signature(before) and after.st_ino == before.st_ino:
        _VERIFIED[key] = (*_signature(after), known[4])


def _hash_object(path: Path, kind: str) -> str:
    """The digest of an object file's content (an array by its values, others by bytes), read in blocks:
    verifying a song's array costs a buffer, not the song's pages."""
    if kind == "array":
        return digest_npy_file(path)
    return digest_file(path)


def object_status(path: Path, digest: str, kind: str, *, memo: bool = True) -> Status:
    """Whether ``path`` holds the object ``digest``: hashed unless the memo (if ``memo``) vouches."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing", "object missing"
    except OSError as exc:
        return "corrupt", f"unreadable: {exc}"
    known = _VERIFIED.get(str(path))
    if memo and known is not None and known[:4] == _signature(st) and known[4] == digest:
        return "ok", ""
    try:
        actual = _hash_object(path, kind)
    except Exception as exc:  # truncated header, bad magic, short file, I/O error
        return "corrupt", f"unreadable: {type(exc).__name__}: {exc}"
    if actual != digest:
        return "corrupt", f"digest mismatch: content hashes to {actual}"
    _VERIFIED[str(path)] = (*_signature(st), digest)
    return "ok", ""


def check_object(path: Path, digest: str, kind: str, *, verify: bool = True) -> Status:
    """``object_status``, or with ``verify=False`` only whether the file exists."""
    if not verify:
        return ("ok", "") if path.is_file() else ("missing", "object missing")
    return object_status(path, digest, kind)


def put_object(path: Path, digest: str, kind: str, write: Callable[[Path], None]) -> str:
    """Store an object with ``write(path)`` unless an intact copy is there (then only touch it);
    return ``digest``. A corrupt copy is overwritten, so a re-render repairs the entry."""
    if object_status(path, digest, kind)[0] == "ok":
        touch(path)
    else:
        write(path)
        remember_written(path, digest)
    return digest


def blob_refs(json_path: Path) -> set[str]:
    """Blob digests referenced by a JSON object file; an unreadable file references nothing."""
    try:
        doc = json.loads(json_path.read_bytes())
    except (OSError, ValueError):
        return set()
    found: set[str] = set()
    stack = [doc]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            blob = value.get("blob")
            if isinstance(blob, str) and HEX32.fullmatch(blob):
                found.add(blob)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found
