"""The on-disk content-addressed cache: artifacts by digest, actions by node key.

Layout under the cache root (ARCHITECTURE.md, "Cache")::

    objects/ab/abcdef....npy    an array artifact, stored as given (float32 audio)
    objects/ab/abcdef....json   a small JSON artifact (an analysis decision), canonical JSON
    objects/ab/abcdef....blob   an encoded file (a WAV export, a cue sheet): raw bytes
    scratch/.scratch.<ext>.<pid>-<rand>.tmp<ext>   a kernel's large output being written (moved to objects/)
    actions/ab/<key>.json       node key -> {"key", "digest", "kind", "stage", "node_id",
                                             "seconds", "preimage", "refs", "created"}
    leases/<pid>-<rand>.json    one per running build; prune never deletes what it may use
    memo/file-digests.json      source-file digest memo (FileDigestMemo)

Every write is a temp file in the target's directory + ``os.replace``
(pipeline.atomic): a crashed build never leaves a half-written entry, and racing
writers of the same object or action both end with a valid entry (identical
objects; for actions the last replace wins, and either record is valid). Entries
are not fsync'd by default: a power cut may lose or tear the newest ones, and
since every object is verified against its digest before it is served and an
unreadable record counts as missing, that costs a re-render, never wrong audio;
fsync cost a fifth of a cold build's time here (2 songs x 16 stems, -j 1: 11.9
vs 9.6 s). Deliverables in --out are still fsync'd.

The modules: ``layout`` (paths, scans), ``objects`` (store and verify objects,
the verified memo), ``actions`` (records), ``leases``, ``maintenance`` (stats,
verify), ``pruning`` and ``limit`` (MIXBUILD_CACHE_MAX_GB, enforced after every
build). ``Cache`` is the one entry point callers use.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Collection
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from mixbuild.pipeline.atomic import (atomic_path, atomic_save_npy, atomic_write_bytes, fsync_dir, new_temp_file,
                             sweep_stale_temps)
from mixbuild.pipeline.digest import canonical_json, digest_array, digest_bytes, digest_file, digest_npy_file
from mixbuild.pipeline.filememo import FileDigestMemo

from . import actions, limit, maintenance, objects, pruning
from .layout import KINDS, Layout
from .leases import Lease, hold_lease
from .limit import LIMIT_ENV_VAR, CacheLimitError, max_bytes
from .objects import clear_verified_memo

__all__ = [
    "Cache",
    "CacheLimitError",
    "ENV_VAR",
    "KINDS",
    "LIMIT_ENV_VAR",
    "clear_verified_memo",
    "max_bytes",
    "resolve_cache_dir",
]

ENV_VAR = "MIXBUILD_CACHE"


def resolve_cache_dir(cli_value: str | os.PathLike[str] | None = None, default: Path | None = None) -> Path:
    """The cache directory: the CLI value, else $MIXBUILD_CACHE, else `default` (a spec's project's cache,
    `project.default_cache`), else ./cache; made absolute, so that workers started elsewhere share it."""
    if cli_value:
        chosen = Path(cli_value)
    elif os.environ.get(ENV_VAR):
        chosen = Path(os.environ[ENV_VAR])
    else:
        chosen = default or Path("cache")
    return chosen.expanduser().absolute()


class Cache:
    """A content-addressed artifact cache rooted at a directory (created on first write)."""

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.layout = Layout(self.root)
        self.objects_dir = self.layout.objects_dir
        self.actions_dir = self.layout.actions_dir
        self.leases_dir = self.layout.leases_dir

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"

    # ------------------------------------------------------------------ objects

    def object_path(self, digest: str, kind: str = "array") -> Path:
        """Where the object ``digest`` of ``kind`` ("array", "json" or "blob") lives."""
        return self.layout.object_path(digest, kind)

    def array_path(self, digest: str) -> Path:
        """Path of the ``.npy`` object ``digest`` (it may not exist)."""
        return self.object_path(digest, "array")

    def json_path(self, digest: str) -> Path:
        """Path of the ``.json`` object ``digest`` (it may not exist)."""
        return self.object_path(digest, "json")

    def blob_path(self, digest: str) -> Path:
        """Path of the blob ``digest`` (it may not exist)."""
        return self.object_path(digest, "blob")

    def put_array(self, arr: np.ndarray) -> str:
        """Store ``arr`` (dtype kept) and return its digest; an intact existing copy is only touched."""
        arr = np.asarray(arr)
        digest = digest_array(arr)
        return objects.put_object(self.array_path(digest), digest, "array",
                                  lambda path: atomic_save_npy(path, arr, fsync=self.fsync))

    def put_array_file(self, source: Path, digest: str | None = None) -> str:
        """Store a kernel's float32 .npy written in this cache's scratch/ (an AudioWriter's) by renaming it
        in; return its digest: `digest` where the writer hashed what it wrote, else hashed from the file in
        blocks. An intact copy already stored is kept."""
        digest = digest or digest_npy_file(source)
        objects.put_object(self.array_path(digest), digest, "array", lambda path: self._move_in(source, path))
        source.unlink(missing_ok=True)  # an intact copy was already stored
        return digest

    def _move_in(self, source: Path, path: Path) -> None:
        """Rename a scratch file into place as an object (fsync'd first when this cache fsyncs)."""
        if self.fsync:
            fd = os.open(source, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, path)
        if self.fsync:
            fsync_dir(path.parent)

    def load_array(self, digest: str, mmap: bool = True) -> np.ndarray:
        """The array ``digest``: a read-only memory map by default. Not verified here:
        ``check_action``/``check_object`` verify. Raises FileNotFoundError if absent."""
        return np.load(self.array_path(digest), mmap_mode="r" if mmap else None, allow_pickle=False)

    def put_json(self, obj: Any) -> str:
        """Store ``obj`` as canonical JSON (so ``1.0`` comes back as ``1``); return its digest."""
        return self._put_bytes(canonical_json(obj).encode("utf-8"), "json")

    def load_json(self, digest: str) -> Any:
        """The JSON object ``digest``. Raises FileNotFoundError if absent."""
        return json.loads(self.json_path(digest).read_bytes())

    def put_blob(self, data: bytes, suffix: str = "") -> str:
        """Store an encoded file's bytes; return ``digest_bytes(data)``. ``suffix`` is only
        a hint for the caller's reference (``{"blob": digest, "suffix": suffix}``): the
        stored name is ``<digest>.blob`` so that ``blob_path`` needs the digest alone."""
        del suffix
        return self._put_bytes(data, "blob")

    def scratch_file(self, suffix: str) -> Path:
        """A new empty file in ``scratch/`` for a kernel's large output (an album file, streamed audio), on
        the objects' file system so that ``put_blob_file(move=True)`` and ``put_array_file`` rename it in;
        leftovers of dead builds are swept."""
        directory = self.layout.scratch_dir
        directory.mkdir(parents=True, exist_ok=True)
        sweep_stale_temps(directory)
        return new_temp_file(directory / f"scratch{suffix}")

    def put_blob_file(self, source: Path, *, move: bool = False) -> str:
        """Store a file's bytes as a blob, read in blocks (never whole); return its digest. ``move``: the
        file is this build's scratch file, renamed into place (no copy); else it is copied, only if absent.
        A blob of this cache passed on (a stored track in an album) is not read again where it is verified."""
        digest = self.verified_blob_digest(source) or digest_file(source)

        def write(path: Path) -> None:
            if move:
                self._move_in(source, path)
            else:
                with atomic_path(path, fsync=self.fsync) as tmp:
                    shutil.copyfile(source, tmp)

        objects.put_object(self.blob_path(digest), digest, "blob", write)
        if move:  # an intact copy was already stored: the scratch file is not needed
            source.unlink(missing_ok=True)
        return digest

    def verified_blob_digest(self, path: Path) -> str | None:
        """The digest of `path` where it is one of this cache's blobs and intact (the verified memo vouches,
        else it is hashed once); None for any other file."""
        digest = path.name.removesuffix(KINDS["blob"])
        try:
            if path != self.blob_path(digest):
                return None
        except ValueError:  # not a digest: not one of ours
            return None
        return digest if objects.object_status(path, digest, "blob")[0] == "ok" else None

    def _put_bytes(self, data: bytes, kind: str) -> str:
        digest = digest_bytes(data)
        return objects.put_object(self.object_path(digest, kind), digest, kind,
                                  lambda path: atomic_write_bytes(path, data, fsync=self.fsync))

    def blob_refs(self, json_digest: str) -> set[str]:
        """Digests of the blobs a JSON object references (``{"blob": <digest>, ...}`` at any depth)."""
        return objects.blob_refs(self.json_path(json_digest))

    def recall_verified(self) -> None:
        """Trust what earlier builds verified, object by object, while its file is untouched (objects.py)."""
        objects.load_verified(self.layout.verified_memo_path, self.root)

    def written_by_worker(self, digest: str, kind: str) -> None:
        """A worker just stored this object (and the blobs of a JSON one) from bytes it hashed: verified as of
        now, so the next build's memo vouches for it without reading it."""
        path = self.object_path(digest, kind)
        objects.remember_written(path, digest)
        if kind == "json":
            for blob in objects.blob_refs(path):
                objects.remember_written(self.object_path(blob, "blob"), blob)

    def remember_verified(self) -> None:
        """Keep what this process verified for the next build (one write; none on a read-only cache)."""
        objects.save_verified(self.layout.verified_memo_path, self.root)

    def check_object(self, digest: str, kind: str = "array", *, verify: bool = True) -> tuple[str, str]:
        """("ok" | "missing" | "corrupt", reason) for an object; ``verify=False`` only checks it exists."""
        return objects.check_object(self.object_path(digest, kind), digest, kind, verify=verify)

    # ------------------------------------------------------------------ actions

    def action_path(self, key: str) -> Path:
        """Where the action record of node key ``key`` lives."""
        return self.layout.action_path(key)

    def put_action(self, key: str, record: dict[str, Any]) -> dict[str, Any]:
        """Record that node ``key`` produced object ``record["digest"]`` of ``record["kind"]``
        (see actions.ACTION_FIELDS); the object must be in the cache. Returns the stored record."""
        return actions.put_action(self.layout, key, record, fsync=self.fsync)

    def check_action(self, key: str, *, verify: bool = True) -> tuple[str, dict[str, Any] | None]:
        """("ok" | "missing" | "corrupt", record) for node ``key``: "ok" only if its object
        (and its blobs) are intact, which it then touches (see actions.check_action)."""
        return actions.check_action(self.layout, key, verify=verify)

    def read_action(self, key: str) -> dict[str, Any] | None:
        """The record of ``key`` without looking at its object (which may have been pruned),
        e.g. to explain a key by its preimage; None if absent or garbage."""
        return actions.read_action(self.layout, key)

    # ------------------------------------------------------------------ leases and maintenance

    def lease(self) -> AbstractContextManager[Lease | None]:
        """Hold a lease for a build (``with cache.lease():``): prune keeps every object touched from now on."""
        return hold_lease(self.leases_dir)

    def stats(self) -> dict[str, Any]:
        """Counts and sizes: objects (arrays, JSON, blobs), actions, live leases."""
        return maintenance.stats(self.layout)

    def verify(self, *, repair: bool = False) -> list[dict[str, str]]:
        """Re-hash every object and read every action; one {"path", "what", "reason"} per bad
        entry (deleted if ``repair``). See maintenance.verify."""
        return maintenance.verify(self.layout, repair=repair)

    def prune(self, max_size_bytes: int | None = None, older_than_s: float | None = None) -> dict[str, Any]:
        """Remove least-recently-used objects and what depends on them; a report. See pruning.prune."""
        return pruning.prune(self.layout, max_size_bytes, older_than_s)

    def enforce_limit(self, limit_bytes: int | None, keep: Collection[str] = ()) -> dict[str, Any] | None:
        """Once over ``limit_bytes`` (``max_bytes()``), evict LRU objects down to EVICT_TO_FRACTION of it, never
        the digests in ``keep`` nor what a live lease protects; prune's report, or None if nothing had to go.
        See limit.enforce."""
        return limit.enforce(self.layout, limit_bytes, keep)

    def file_digest_memo(self) -> FileDigestMemo:
        """The source-file digest memo kept in this cache (``memo/file-digests.json``)."""
        return FileDigestMemo(self.layout.file_memo_path)
