"""The on-disk content-addressed cache: artifacts by digest, actions by node key.

Layout under the cache root (DESIGN.md, "Cache")::

    objects/ab/abcdef....npy    an array artifact, stored as given (float32 audio)
    objects/ab/abcdef....json   a small JSON artifact (an analysis decision), canonical JSON
    objects/ab/abcdef....blob   an encoded file (a WAV export, a cue sheet): raw bytes
    actions/ab/<key>.json       node key -> {"key", "digest", "kind", "stage", "node_id",
                                             "seconds", "params", "created"}
    leases/<pid>-<rand>.json    one per running build; prune never deletes what it may use
    memo/file-digests.json      source-file digest memo (hashing.FileDigestMemo)

Blobs are referenced from JSON objects as ``{"blob": <digest>, ...}`` (at any
depth); a JSON object stands or falls with its blobs: ``check_action`` verifies
and touches them, and prune never removes a blob that a kept JSON object
references (and removes blobs whose last referrer it removed).

Every write is a temp file in the target's directory + fsync + ``os.replace``
(pipeline.atomic): a crash never leaves a half-written entry, and racing writers
of the same object or action both end with a valid entry (identical objects;
for actions the last replace wins, and either record is valid).

An entry whose object is missing or whose bytes do not match its digest is
never served: ``check_action`` says "missing" or "corrupt" and the executor
re-renders. Verifying means hashing the object (xxh3 ~18 GB/s: ~7 ms for a
115 MB five-minute stereo track once it is in the page cache; a cold read from
disk costs the read). Verified objects are memoised per process on
(path, size, mtime_ns, ctime_ns, inode), so a hit checked twice is hashed once.
Objects are only ever replaced (new inode), never written in place, so the memo
can only be fooled by an in-place edit in the same timestamp tick as the
verification; a new process re-verifies.

Pruning and leases: objects used by a build have their mtime touched (on a hit
in ``check_action``, and when ``put_*`` finds them already present), so mtime
is the LRU clock. A build takes ``with cache.lease():`` before it checks any
action; prune never deletes an object whose mtime is at or after the start of
the oldest live lease (minus LEASE_SLACK_NS). A lease is live while its pid
runs on this host; a lease from another host (a shared cache) is live for
FOREIGN_LEASE_TTL_S. Stale leases are removed by prune. One race remains: a
build touching an object in the instant between prune's re-stat and unlink;
the build then finds the object missing when it loads it and must re-render.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.atomic import atomic_save_npy, atomic_write_bytes, atomic_write_json, is_temp_name
from pipeline.hashing import FileDigestMemo, canonical_json, digest_array, digest_bytes, digest_file

__all__ = [
    "Cache",
    "ENV_VAR",
    "KINDS",
    "clear_verified_memo",
    "resolve_cache_dir",
]

ENV_VAR = "MIXBUILD_CACHE"
KINDS = {"array": ".npy", "json": ".json", "blob": ".blob"}
ACTION_FIELDS = ("key", "digest", "kind", "stage", "node_id", "seconds", "params", "created")

LEASE_SLACK_NS = 2_000_000_000
"""Objects touched up to 2 s before the oldest live lease started are kept too (clock steps)."""
FOREIGN_LEASE_TTL_S = 24 * 3600
"""A lease written on another host cannot be checked by pid; it counts as live this long."""
TEMP_GRACE_S = 3600
"""prune removes temp files (left by a killed writer) older than this."""

_HEX32 = re.compile(r"[0-9a-f]{32}")
_OBJECT_NAME = re.compile(r"([0-9a-f]{32})(\.npy|\.json|\.blob)")

# path -> (size, mtime_ns, ctime_ns, inode, digest) of objects verified by this process
_VERIFIED: dict[str, tuple[int, int, int, int, str]] = {}


def clear_verified_memo() -> None:
    """Forget which objects this process has verified (as a new process would)."""
    _VERIFIED.clear()


def resolve_cache_dir(cli_value: str | os.PathLike[str] | None = None) -> Path:
    """The cache directory: the CLI value, else $MIXBUILD_CACHE, else ./cache (made absolute,
    so that workers started elsewhere share it)."""
    if cli_value:
        chosen = Path(cli_value)
    elif os.environ.get(ENV_VAR):
        chosen = Path(os.environ[ENV_VAR])
    else:
        chosen = Path("cache")
    return chosen.expanduser().absolute()


def _check_hex(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _HEX32.fullmatch(value):
        raise ValueError(f"cache: {what} must be 32 lowercase hex characters (got {value!r})")
    return value


def _sig(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Lease:
    """A running build's claim on the cache (see the module docstring)."""

    path: Path
    pid: int
    host: str
    start_ns: int  # the lease file's mtime: the same clock as the objects' mtimes


class Cache:
    """A content-addressed artifact cache rooted at a directory (created on first write)."""

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.objects_dir = self.root / "objects"
        self.actions_dir = self.root / "actions"
        self.leases_dir = self.root / "leases"

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"

    # ------------------------------------------------------------------ objects

    def object_path(self, digest: str, kind: str = "array") -> Path:
        """Where the object ``digest`` of ``kind`` ("array", "json" or "blob") lives."""
        _check_hex(digest, "digest")
        if kind not in KINDS:
            raise ValueError(f"cache: kind must be one of {sorted(KINDS)} (got {kind!r})")
        return self.objects_dir / digest[:2] / f"{digest}{KINDS[kind]}"

    def array_path(self, digest: str) -> Path:
        """Path of the ``.npy`` object ``digest`` (it may not exist)."""
        return self.object_path(digest, "array")

    def json_path(self, digest: str) -> Path:
        """Path of the ``.json`` object ``digest`` (it may not exist)."""
        return self.object_path(digest, "json")

    def put_array(self, arr: np.ndarray) -> str:
        """Store ``arr`` (dtype kept) and return its digest; an intact existing copy is only touched."""
        arr = np.asarray(arr)
        digest = digest_array(arr)
        path = self.array_path(digest)
        if self._object_status(path, digest, "array")[0] == "ok":
            self._touch(path)
            return digest
        atomic_save_npy(path, arr, fsync=self.fsync)
        self._remember_verified(path, digest)
        return digest

    def load_array(self, digest: str, mmap: bool = True) -> np.ndarray:
        """The array ``digest``: a read-only memory map by default. Not verified here:
        ``check_action``/``check_object`` verify. Raises FileNotFoundError if absent."""
        return np.load(self.array_path(digest), mmap_mode="r" if mmap else None, allow_pickle=False)

    def put_json(self, obj: Any) -> str:
        """Store ``obj`` as canonical JSON (so ``1.0`` comes back as ``1``); return its digest."""
        data = canonical_json(obj).encode("utf-8")
        digest = digest_bytes(data)
        path = self.json_path(digest)
        if self._object_status(path, digest, "json")[0] == "ok":
            self._touch(path)
            return digest
        atomic_write_bytes(path, data, fsync=self.fsync)
        self._remember_verified(path, digest)
        return digest

    def load_json(self, digest: str) -> Any:
        """The JSON object ``digest``. Raises FileNotFoundError if absent."""
        return json.loads(self.json_path(digest).read_bytes())

    def blob_path(self, digest: str) -> Path:
        """Path of the blob ``digest`` (it may not exist)."""
        return self.object_path(digest, "blob")

    def put_blob(self, data: bytes, suffix: str = "") -> str:
        """Store an encoded file's bytes; return ``digest_bytes(data)``. ``suffix`` is only
        a hint for the caller's reference (``{"blob": digest, "suffix": suffix}``): the
        stored name is ``<digest>.blob`` so that ``blob_path`` needs the digest alone."""
        del suffix
        digest = digest_bytes(data)
        path = self.blob_path(digest)
        if self._object_status(path, digest, "blob")[0] == "ok":
            self._touch(path)
            return digest
        atomic_write_bytes(path, data, fsync=self.fsync)
        self._remember_verified(path, digest)
        return digest

    def blob_refs(self, json_digest: str) -> set[str]:
        """Digests of the blobs a JSON object references (``{"blob": <digest>, ...}`` at any depth)."""
        return _blob_refs(self.json_path(json_digest))

    def check_object(self, digest: str, kind: str = "array", *, verify: bool = True) -> tuple[str, str]:
        """("ok" | "missing" | "corrupt", reason) for an object; ``verify=False`` only checks it exists."""
        path = self.object_path(digest, kind)
        if not verify:
            return ("ok", "") if path.is_file() else ("missing", "object missing")
        return self._object_status(path, digest, kind)

    def _object_status(self, path: Path, digest: str, kind: str, *, memo: bool = True) -> tuple[str, str]:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return "missing", "object missing"
        except OSError as exc:
            return "corrupt", f"unreadable: {exc}"
        known = _VERIFIED.get(str(path))
        if memo and known is not None and known[:4] == _sig(st) and known[4] == digest:
            return "ok", ""
        try:
            if kind == "array":
                actual = digest_array(np.load(path, mmap_mode="r", allow_pickle=False))
            else:
                actual = digest_file(path)
        except Exception as exc:  # truncated header, bad magic, short file, I/O error
            return "corrupt", f"unreadable: {type(exc).__name__}: {exc}"
        if actual != digest:
            return "corrupt", f"digest mismatch: content hashes to {actual}"
        _VERIFIED[str(path)] = (*_sig(st), digest)
        return "ok", ""

    def _remember_verified(self, path: Path, digest: str) -> None:
        """We just wrote these bytes from a value with this digest: no need to re-read them."""
        with contextlib.suppress(OSError):
            _VERIFIED[str(path)] = (*_sig(os.stat(path)), digest)

    def _touch(self, path: Path) -> None:
        """Mark an object used now (the LRU clock); keep its verified status across the touch."""
        key = str(path)
        try:
            before = os.stat(path)
            os.utime(path)
            after = os.stat(path)
        except OSError:  # read-only cache or a racing prune: nothing to mark
            return
        known = _VERIFIED.get(key)
        if known is not None and known[:4] == _sig(before) and after.st_ino == before.st_ino:
            _VERIFIED[key] = (*_sig(after), known[4])

    # ------------------------------------------------------------------ actions

    def action_path(self, key: str) -> Path:
        """Where the action record of node key ``key`` lives."""
        _check_hex(key, "key")
        return self.actions_dir / key[:2] / f"{key}.json"

    def put_action(self, key: str, record: dict[str, Any]) -> dict[str, Any]:
        """Record that node ``key`` produced object ``record["digest"]`` of ``record["kind"]``.

        Other fields (stage, node_id, seconds, params) default to None; "created" to now.
        The object must already be in the cache. Returns the stored record.
        """
        path = self.action_path(key)
        if "key" in record and record["key"] != key:
            raise ValueError(f"cache: record key {record['key']!r} differs from {key!r}")
        full = {field: None for field in ACTION_FIELDS}
        full.update(record)
        full["key"] = key
        if full["created"] is None:
            full["created"] = time.time()
        if full["kind"] not in KINDS:
            raise ValueError(f"cache: action kind must be one of {sorted(KINDS)} (got {full['kind']!r})")
        if not self.object_path(_check_hex(full["digest"], "digest"), full["kind"]).is_file():
            raise ValueError(f"cache: action {key} points to missing {full['kind']} object {full['digest']}")
        atomic_write_json(path, full, fsync=self.fsync)
        return full

    def _read_action(self, path: Path, key: str) -> tuple[dict[str, Any] | None, str]:
        """(record, "") or (None, reason) for an existing action file."""
        try:
            raw = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as exc:
            return None, f"unreadable action: {type(exc).__name__}"
        if not isinstance(raw, dict):
            return None, "invalid action: not a JSON object"
        if raw.get("key") != key:
            return None, f"invalid action: key {raw.get('key')!r} differs from its file name"
        if raw.get("kind") not in KINDS:
            return None, f"invalid action: kind {raw.get('kind')!r}"
        if not isinstance(raw.get("digest"), str) or not _HEX32.fullmatch(raw["digest"]):
            return None, f"invalid action: digest {raw.get('digest')!r}"
        return raw, ""

    def check_action(self, key: str, *, verify: bool = True) -> tuple[str, dict[str, Any] | None]:
        """("ok" | "missing" | "corrupt", record) for node ``key``.

        "missing": no action, or its object (or a blob its JSON references) is gone.
        "corrupt": the action file is garbage (record None), or the object's (or a
        referenced blob's) bytes no longer match its digest. The record is given
        whenever the action file is readable. "ok" touches the object and its blobs (LRU).
        ``verify=False`` skips hashing the object (it then only has to exist).
        """
        path = self.action_path(key)
        try:
            record, _reason = self._read_action(path, key)
        except FileNotFoundError:
            return "missing", None
        if record is None:
            return "corrupt", None
        status, _reason = self.check_object(record["digest"], record["kind"], verify=verify)
        if status != "ok":
            return status, record
        blobs = sorted(self.blob_refs(record["digest"])) if record["kind"] == "json" else []
        for blob in blobs:  # an export manifest is only as good as its files
            status, _reason = self.check_object(blob, "blob", verify=verify)
            if status != "ok":
                return status, record
        self._touch(self.object_path(record["digest"], record["kind"]))
        for blob in blobs:
            self._touch(self.blob_path(blob))
        return "ok", record

    def get_action(self, key: str, *, verify: bool = True) -> dict[str, Any] | None:
        """The action record of ``key`` if it and its object are intact, else None (never raises on garbage)."""
        status, record = self.check_action(key, verify=verify)
        return record if status == "ok" else None

    # ------------------------------------------------------------------ leases

    @contextlib.contextmanager
    def lease(self) -> Iterator[Lease]:
        """Hold a lease for a build: prune keeps every object touched from now on."""
        path = self.leases_dir / f"{os.getpid()}-{secrets.token_hex(6)}.json"
        info = {"pid": os.getpid(), "host": socket.gethostname(), "start": time.time()}
        atomic_write_json(path, info, fsync=False)
        try:
            yield Lease(path, info["pid"], info["host"], os.stat(path).st_mtime_ns)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def leases(self, *, remove_stale: bool = False) -> tuple[list[Lease], list[Path]]:
        """(live leases, stale lease files); stale ones are deleted if ``remove_stale``."""
        live: list[Lease] = []
        stale: list[Path] = []
        host = socket.gethostname()
        now_ns = time.time_ns()
        for path in _files(self.leases_dir):
            if is_temp_name(path.name):
                continue
            try:
                st = os.stat(path)
                info = json.loads(path.read_bytes())
                pid, lease_host = int(info["pid"]), str(info["host"])
            except FileNotFoundError:
                continue  # released meanwhile
            except (OSError, ValueError, KeyError, TypeError):
                stale.append(path)
                continue
            if lease_host == host:
                alive = _pid_alive(pid)
            else:
                alive = now_ns - st.st_mtime_ns < FOREIGN_LEASE_TTL_S * 1_000_000_000
            if alive:
                live.append(Lease(path, pid, lease_host, st.st_mtime_ns))
            else:
                stale.append(path)
        if remove_stale:
            for path in stale:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        return live, stale

    # ------------------------------------------------------------------ maintenance

    def _objects(self) -> Iterator[tuple[Path, str, str, os.stat_result]]:
        """(path, digest, kind, stat) of every object file."""
        suffix_kind = {suffix: kind for kind, suffix in KINDS.items()}
        for path in _files(self.objects_dir, depth=2):
            match = _OBJECT_NAME.fullmatch(path.name)
            if match is None:
                continue
            with contextlib.suppress(FileNotFoundError):
                yield path, match.group(1), suffix_kind[match.group(2)], os.stat(path)

    def _actions(self) -> Iterator[tuple[Path, str]]:
        for path in _files(self.actions_dir, depth=2):
            if path.suffix == ".json" and _HEX32.fullmatch(path.stem):
                yield path, path.stem

    def stats(self) -> dict[str, Any]:
        """Counts and sizes: objects (arrays, JSON, blobs), actions, live leases."""
        counts = {kind: 0 for kind in KINDS}
        size = 0
        for _path, _digest, kind, st in self._objects():
            counts[kind] += 1
            size += st.st_size
        live, _stale = self.leases()
        return {
            "root": str(self.root),
            "objects": sum(counts.values()),
            "object_bytes": size,
            "arrays": counts["array"],
            "json_objects": counts["json"],
            "blobs": counts["blob"],
            "actions": sum(1 for _ in self._actions()),
            "live_leases": len(live),
        }

    def verify(self, *, repair: bool = False) -> list[dict[str, str]]:
        """Re-hash every object and read every action; return one {"path", "what", "reason"}
        per bad entry. Objects whose bytes do not match their name and actions that are
        garbage or point to a missing/corrupt object are listed (and deleted if ``repair``)."""
        problems: list[dict[str, str]] = []
        bad_objects: set[Path] = set()
        json_objects = []
        for path, digest, kind, _st in self._objects():
            status, reason = self._object_status(path, digest, kind, memo=False)
            if status == "corrupt":
                problems.append({"path": str(path), "what": "object", "reason": reason})
                bad_objects.add(path)
            elif kind == "json":
                json_objects.append(path)
        for path in json_objects:  # a JSON object whose blobs are gone or bad is bad too
            for blob in sorted(_blob_refs(path)):
                blob_path = self.blob_path(blob)
                if blob_path in bad_objects or not blob_path.is_file():
                    state = "corrupt" if blob_path in bad_objects else "missing"
                    problems.append({"path": str(path), "what": "object", "reason": f"blob {blob} {state}"})
                    bad_objects.add(path)
                    break
        for path, key in self._actions():
            try:
                record, reason = self._read_action(path, key)
            except FileNotFoundError:
                continue
            if record is not None:
                target = self.object_path(record["digest"], record["kind"])
                if target in bad_objects:
                    reason = f"object {record['digest']} is corrupt"
                elif not target.is_file():
                    reason = f"object {record['digest']} missing"
            if reason:
                problems.append({"path": str(path), "what": "action", "reason": reason})
        if repair:
            for problem in problems:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(problem["path"])
                _VERIFIED.pop(problem["path"], None)
        return problems

    def prune(self, max_size_bytes: int | None = None, older_than_s: float | None = None) -> dict[str, Any]:
        """Remove least-recently-used objects (by mtime) and the actions that point to them.

        ``older_than_s``: remove objects not used for that long. ``max_size_bytes``:
        then remove the oldest until the objects fit. Objects touched since the
        oldest live lease started are never removed (so a prune may end over
        budget: "over_budget"). Also removes stale leases, garbage or dangling
        actions, and temp files older than TEMP_GRACE_S.
        """
        now_ns = time.time_ns()
        live, stale = self.leases(remove_stale=True)
        protect_from = min(lease.start_ns for lease in live) - LEASE_SLACK_NS if live else None

        objects = sorted(self._objects(), key=lambda item: (item[3].st_mtime_ns, item[0].name))
        total = sum(st.st_size for *_rest, st in objects)
        removed: list[tuple[Path, int]] = []
        removed_paths: set[Path] = set()
        protected = 0
        referrers: dict[str, set[Path]] = {}  # blob digest -> JSON objects referencing it
        for path, _digest, kind, _st in objects:
            if kind == "json":
                for blob in _blob_refs(path):
                    referrers.setdefault(blob, set()).add(path)

        def referenced(blob: str) -> bool:
            return any(path not in removed_paths for path in referrers.get(blob, ()))

        def try_remove(path: Path, scanned: os.stat_result) -> bool:
            try:
                now = os.stat(path)
            except FileNotFoundError:
                return False
            if now.st_mtime_ns != scanned.st_mtime_ns or now.st_ino != scanned.st_ino:
                return False  # used (touched) or rewritten since the scan: keep it
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                _VERIFIED.pop(str(path), None)
                removed.append((path, now.st_size))
                removed_paths.add(path)
                return True
            return False

        age_cutoff = None if older_than_s is None else now_ns - int(older_than_s * 1e9)
        for path, digest, kind, st in objects:
            if protect_from is not None and st.st_mtime_ns >= protect_from:
                protected += 1
                continue
            if kind == "blob" and referenced(digest):
                continue  # a kept JSON object needs it
            old = age_cutoff is not None and st.st_mtime_ns < age_cutoff
            too_big = max_size_bytes is not None and total > max_size_bytes
            if (old or too_big) and try_remove(path, st):
                total -= st.st_size
        for path, digest, kind, st in objects:  # blobs whose last referrer was just removed
            if kind != "blob" or path in removed_paths or digest not in referrers or referenced(digest):
                continue
            if (protect_from is None or st.st_mtime_ns < protect_from) and try_remove(path, st):
                total -= st.st_size

        removed_actions = 0
        for path, key in self._actions():
            try:
                record, _reason = self._read_action(path, key)
            except FileNotFoundError:
                continue
            if record is None or not self.object_path(record["digest"], record["kind"]).is_file():
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                    removed_actions += 1

        temp_cutoff = now_ns - TEMP_GRACE_S * 1_000_000_000
        temps_removed = 0
        for directory, depth in ((self.objects_dir, 2), (self.actions_dir, 2), (self.leases_dir, 1)):
            for path in _files(directory, depth=depth):
                if is_temp_name(path.name):
                    with contextlib.suppress(FileNotFoundError):
                        if os.stat(path).st_mtime_ns < temp_cutoff:
                            os.unlink(path)
                            temps_removed += 1

        return {
            "removed_objects": len(removed),
            "removed_bytes": sum(size for _path, size in removed),
            "removed_actions": removed_actions,
            "kept_objects": len(objects) - len(removed),
            "kept_bytes": total,
            "protected_by_lease": protected,
            "over_budget": max_size_bytes is not None and total > max_size_bytes,
            "live_leases": len(live),
            "stale_leases_removed": len(stale),
            "temp_files_removed": temps_removed,
        }

    def file_digest_memo(self) -> FileDigestMemo:
        """The source-file digest memo kept in this cache (``memo/file-digests.json``)."""
        return FileDigestMemo(self.root / "memo" / "file-digests.json")


def _files(directory: Path, depth: int = 1) -> Iterator[Path]:
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
            yield from _files(Path(entry.path), depth - 1)


def _blob_refs(json_path: Path) -> set[str]:
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
            if isinstance(blob, str) and _HEX32.fullmatch(blob):
                found.add(blob)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found
