"""Whole-cache inspection: ``stats`` (counts and sizes) and ``verify`` (re-hash everything).

``verify`` ignores the per-process verified memo: it re-reads every object, so
it finds what a build would only find when it next used the entry.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .actions import read_record
from .layout import KINDS, Layout, disk_bytes, scan_actions, scan_objects, unlink_quietly
from .leases import scan_leases
from .objects import blob_refs, forget_verified, object_status

Problem = dict[str, str]
"""One bad entry: {"path", "what": "object" | "action", "reason"}."""


def stats(layout: Layout) -> dict[str, Any]:
    """Counts and sizes: objects (arrays, JSON, blobs), actions, live leases."""
    counts = dict.fromkeys(KINDS, 0)
    size_bytes = 0
    for obj in scan_objects(layout):
        counts[obj.kind] += 1
        size_bytes += disk_bytes(obj.stat)
    live, _stale = scan_leases(layout.leases_dir)
    return {
        "root": str(layout.root),
        "objects": sum(counts.values()),
        "object_bytes": size_bytes,
        "arrays": counts["array"],
        "json_objects": counts["json"],
        "blobs": counts["blob"],
        "actions": sum(1 for _ in scan_actions(layout)),
        "live_leases": len(live),
    }


def verify(layout: Layout, *, repair: bool = False) -> list[Problem]:
    """Re-hash every object and read every action; return one Problem per bad entry.

    Listed (and deleted if ``repair``): objects whose bytes do not match their
    name, JSON objects with a missing or corrupt blob, and actions that are
    garbage or point to a missing or bad object.
    """
    problems, bad_objects, json_paths = _verify_objects(layout)
    problems += _symlinks(layout)
    problems += _verify_blob_referrers(layout, json_paths, bad_objects)
    problems += _verify_actions(layout, bad_objects)
    if repair:
        for problem in problems:
            unlink_quietly(Path(problem["path"]))
            forget_verified(problem["path"])
    return problems


def _symlinks(layout: Layout) -> list[Problem]:
    """Symbolic links among the shard folders and object files: the scan (and so verify) does not follow
    them, while a build would read through them; so each is reported (and with ``repair`` the link, never
    what it points to, is removed)."""
    problems: list[Problem] = []
    try:
        shards = list(os.scandir(layout.objects_dir))
    except (FileNotFoundError, NotADirectoryError):
        return problems
    entries = [shard for shard in shards if shard.is_symlink()] + [
        entry for shard in shards if shard.is_dir(follow_symlinks=False) for entry in os.scandir(shard.path)
        if entry.is_symlink()]
    for entry in entries:
        problems.append({"path": entry.path, "what": "object", "reason": "a symbolic link: the cache holds plain "
                         "files in plain shard folders, and verify does not follow links"})
    return problems


def _verify_objects(layout: Layout) -> tuple[list[Problem], set[Path], list[Path]]:
    """(problems, corrupt object paths, intact JSON object paths)."""
    problems: list[Problem] = []
    bad_objects: set[Path] = set()
    json_paths: list[Path] = []
    for obj in scan_objects(layout):
        status, reason = object_status(obj.path, obj.digest, obj.kind, memo=False)
        if status == "corrupt":
            problems.append({"path": str(obj.path), "what": "object", "reason": reason})
            bad_objects.add(obj.path)
        elif obj.kind == "json":
            json_paths.append(obj.path)
    return problems, bad_objects, json_paths


def _verify_blob_referrers(layout: Layout, json_paths: list[Path], bad_objects: set[Path]) -> list[Problem]:
    """Problems for JSON objects with a missing or corrupt blob; adds those objects to ``bad_objects``."""
    problems: list[Problem] = []
    for path in json_paths:
        reason = _blob_problem(layout, path, bad_objects)
        if reason:
            problems.append({"path": str(path), "what": "object", "reason": reason})
            bad_objects.add(path)
    return problems


def _blob_problem(layout: Layout, json_path: Path, bad_objects: set[Path]) -> str:
    """Why the JSON object at ``json_path`` is bad because of its blobs ("" if it is not)."""
    for blob in sorted(blob_refs(json_path)):
        blob_path = layout.object_path(blob, "blob")
        if blob_path in bad_objects:
            return f"blob {blob} corrupt"
        if not blob_path.is_file():
            return f"blob {blob} missing"
    return ""


def _verify_actions(layout: Layout, bad_objects: set[Path]) -> list[Problem]:
    """Problems for garbage actions and actions whose object is missing or in ``bad_objects``."""
    problems: list[Problem] = []
    for path, key in scan_actions(layout):
        try:
            record, reason = read_record(path, key)
        except FileNotFoundError:
            continue
        if record is not None:
            reason = _target_problem(layout, record, bad_objects)
        if reason:
            problems.append({"path": str(path), "what": "action", "reason": reason})
    return problems


def _target_problem(layout: Layout, record: dict[str, Any], bad_objects: set[Path]) -> str:
    """Why a well-formed action's object cannot be served ("" if it can)."""
    target = layout.object_path(record["digest"], record["kind"])
    if target in bad_objects:
        return f"object {record['digest']} is corrupt"
    if not target.is_file():
        return f"object {record['digest']} missing"
    return ""
