"""Prune: evict least-recently-used objects, never one a live build may use.

Objects used by a build have their mtime touched (on a hit in ``check_action``,
and when ``put_*`` finds them already present), so mtime is the LRU clock.
Objects touched since the oldest live lease started are kept (see leases), and
so are the digests a caller names in ``keep`` (the build that prunes, see limit). A
blob is kept while a kept JSON object references it, and removed with its last
referrer. An object's action records are removed just before the object, so that a
prune killed at any point leaves orphan objects (evicted later), never a record
that names a missing object. Garbage actions, and any whose object is gone, are
removed after the objects; so are temp files of killed writers older than TEMP_GRACE_S.

Each object is re-stat'ed just before it is unlinked and kept if it was touched
or rewritten since the scan. One race remains: a build touching an object in the
instant between that re-stat and the unlink; the build then finds the object
missing when it loads it and must re-render.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from mixbuild.pipeline.atomic import is_temp_name

from .actions import read_record
from .layout import Layout, StoredObject, disk_bytes, files, scan_actions, scan_objects, unlink_quietly
from .leases import protected_since_ns, scan_leases
from .objects import blob_refs, forget_verified

TEMP_GRACE_S = 3600
"""prune removes temp files (left by a killed writer) older than this."""


def prune(layout: Layout, max_size_bytes: int | None = None, older_than_s: float | None = None,
          keep: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Remove LRU objects, then dangling actions, stale leases and old temp files; return a report.

    ``older_than_s``: remove objects not used for that long. ``max_size_bytes``:
    then remove the oldest until the objects fit. Lease-protected objects and the
    digests in ``keep`` stay, so a prune may end over budget ("over_budget").
    """
    now_ns = time.time_ns()
    live, stale = scan_leases(layout.leases_dir, remove_stale=True)
    age_cutoff_ns = None if older_than_s is None else now_ns - int(older_than_s * 1e9)
    objects = [_clamped_to_now(obj, now_ns) for obj in scan_objects(layout)]
    eviction = _Eviction(sorted(objects, key=_lru_order), protected_since_ns(live), keep, _records_by_digest(layout))
    eviction.evict_lru(age_cutoff_ns, max_size_bytes)
    removed_actions = _remove_dangling_actions(layout)
    temps_removed = _remove_stale_temps(layout, now_ns - TEMP_GRACE_S * 1_000_000_000)
    return {
        "removed_objects": len(eviction.removed_size_bytes),
        "removed_bytes": sum(eviction.removed_size_bytes.values()),
        "removed_actions": eviction.removed_actions + removed_actions,
        "kept_objects": len(eviction.objects) - len(eviction.removed_size_bytes),
        "kept_bytes": eviction.kept_bytes,
        "protected_by_lease": eviction.protected_count,
        "over_budget": eviction.over_budget(max_size_bytes),
        "live_leases": len(live),
        "stale_leases_removed": len(stale),
        "temp_files_removed": temps_removed,
    }


def _clamped_to_now(obj: StoredObject, now_ns: int) -> StoredObject:
    """An object last used "in the future" (a clock set wrong, files copied with their timestamps) is marked
    used now, so that it ages from here on; before, it was never old enough to prune and always the most
    recently used."""
    if obj.stat.st_mtime_ns <= now_ns:
        return obj
    try:
        os.utime(obj.path, ns=(now_ns, now_ns))
        return obj._replace(stat=os.stat(obj.path))
    except OSError:  # gone, or a read-only cache: prune it as it is
        return obj


def _lru_order(obj: StoredObject) -> tuple[int, str]:
    """Least recently used first; the name breaks ties so the order is stable."""
    return obj.stat.st_mtime_ns, obj.path.name


def _records_by_digest(layout: Layout) -> dict[str, list[Path]]:
    """Object digest -> the action records that name it."""
    records: dict[str, list[Path]] = {}
    for path, key in scan_actions(layout):
        try:
            record, _reason = read_record(path, key)
        except FileNotFoundError:
            continue
        if record is not None:
            records.setdefault(record["digest"], []).append(path)
    return records


def _unlink_if_unused(obj: StoredObject, records: list[Path]) -> int | None:
    """Unlink an object, after the action `records` that name it (counted by the caller), unless it was touched
    or rewritten since the scan; its size if removed."""
    try:
        now = os.stat(obj.path)
    except FileNotFoundError:
        return None
    if now.st_mtime_ns != obj.stat.st_mtime_ns or now.st_ino != obj.stat.st_ino:
        return None  # used (touched) or rewritten since the scan: keep it
    for path in records:
        unlink_quietly(path)
    if not unlink_quietly(obj.path):
        return None
    forget_verified(obj.path)
    return disk_bytes(now)


class _Eviction:
    """One prune's pass over the objects, oldest first, and what it removed."""

    def __init__(self, objects: list[StoredObject], protected_since_ns: int | None,
                 keep: frozenset[str], records: dict[str, list[Path]]) -> None:
        self.objects = objects
        self.records = records
        self.removed_actions = 0
        self.protected_since_ns = protected_since_ns
        self.keep = keep
        self.refs = {obj.path: blob_refs(obj.path) for obj in objects if obj.kind == "json"}
        self.referrers: dict[str, set[Path]] = {}  # blob digest -> the JSON objects that reference it
        for path, blobs in self.refs.items():
            for blob in blobs:
                self.referrers.setdefault(blob, set()).add(path)
        self.blobs = {obj.digest: obj for obj in objects if obj.kind == "blob"}
        self.kept_bytes = sum(disk_bytes(obj.stat) for obj in objects)
        self.removed_size_bytes: dict[Path, int] = {}  # path -> its size when removed
        self.protected_count = 0

    def _leased(self, obj: StoredObject) -> bool:
        """Whether a live build may use ``obj``: touched since the oldest lease, or named in ``keep``."""
        if obj.digest in self.keep:
            return True
        return self.protected_since_ns is not None and obj.stat.st_mtime_ns >= self.protected_since_ns

    def _referenced(self, blob: str) -> bool:
        """Whether a JSON object not removed by this prune references ``blob``."""
        return any(path not in self.removed_size_bytes for path in self.referrers.get(blob, ()))

    def _remove(self, obj: StoredObject) -> None:
        records = self.records.get(obj.digest, [])
        size_bytes = _unlink_if_unused(obj, records)
        if size_bytes is not None:
            self.removed_actions += len(records)
            self.removed_size_bytes[obj.path] = size_bytes
            self.kept_bytes -= disk_bytes(obj.stat)

    def evict_lru(self, age_cutoff_ns: int | None, max_size_bytes: int | None) -> None:
        """Oldest first, remove each object older than the cutoff or while the cache is over budget; a JSON
        object's blobs that no kept JSON references go with it (counted at once, so the pass stops as soon as
        the cache fits, not an object later)."""
        for obj in self.objects:
            if obj.path in self.removed_size_bytes:
                continue  # went with its JSON object
            if self._leased(obj):
                self.protected_count += 1
            elif obj.kind == "blob" and self._referenced(obj.digest):
                continue  # a kept JSON object needs it
            elif self._too_old(obj, age_cutoff_ns) or self.over_budget(max_size_bytes):
                self._remove(obj)
                if obj.kind == "json" and obj.path in self.removed_size_bytes:
                    self._remove_orphans_of(obj)

    @staticmethod
    def _too_old(obj: StoredObject, age_cutoff_ns: int | None) -> bool:
        return age_cutoff_ns is not None and obj.stat.st_mtime_ns < age_cutoff_ns

    def over_budget(self, max_size_bytes: int | None) -> bool:
        """Whether the kept objects exceed ``max_size_bytes`` (never, without a budget)."""
        return max_size_bytes is not None and self.kept_bytes > max_size_bytes

    def _remove_orphans_of(self, json_obj: StoredObject) -> None:
        """Remove the blobs of a removed JSON object that no kept JSON object references (unless a live build
        may use them)."""
        for digest in sorted(self.refs[json_obj.path]):
            blob = self.blobs.get(digest)
            if blob is None or blob.path in self.removed_size_bytes or self._leased(blob):
                continue
            if not self._referenced(digest):
                self._remove(blob)


def _remove_dangling_actions(layout: Layout) -> int:
    """Remove garbage actions and actions whose object is gone; return how many."""
    removed = 0
    for path, key in scan_actions(layout):
        try:
            record, _reason = read_record(path, key)
        except FileNotFoundError:
            continue
        if record is None or not layout.object_path(record["digest"], record["kind"]).is_file():
            removed += unlink_quietly(path)
    return removed


def _remove_stale_temps(layout: Layout, cutoff_ns: int) -> int:
    """Remove temp files (objects, actions, leases) last written before ``cutoff_ns``; return how many."""
    removed = 0
    for directory, depth in ((layout.objects_dir, 2), (layout.actions_dir, 2), (layout.leases_dir, 1)):
        for path in files(directory, depth=depth):
            if is_temp_name(path.name):
                with contextlib.suppress(FileNotFoundError):
                    if os.stat(path).st_mtime_ns < cutoff_ns:
                        removed += unlink_quietly(path)
    return removed
