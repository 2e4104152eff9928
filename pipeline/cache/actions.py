"""Action records: node key -> the object it produced, and the key's preimage.

A record is ``actions/ab/<key>.json`` with the fields ACTION_FIELDS. ``preimage``
is the JSON object whose canonical digest is the key (``{"kind", "code",
"params", "inputs", "libs"}``) and ``refs`` says which node ids / source files
the preimage's input digests came from, so any key can be explained later (as
Bazel keeps the action beside its digest). The cache stores these fields and
gives them back; it does not interpret them.

A record checks itself: its key is its file's name, its preimage hashes to that key, and the kind of
object it names is the one its stage stores; a record failing any of these is corrupt (re-rendered,
reported by ``cache verify``), never served and never an internal error.

A record is only written once its object is in the cache, and it is only served
("ok") while that object, and every blob a JSON object references, is intact.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from mixbuild.pipeline.atomic import atomic_write_json
from mixbuild.pipeline.key import node_key

from .layout import HEX32, KINDS, Layout, check_hex, check_kind
from .objects import blob_refs, check_object, touch

ACTION_FIELDS = ("key", "digest", "kind", "stage", "node_id", "seconds", "preimage", "refs", "created")
"""Every record has these; all but key, digest, kind and created may be None."""


def put_action(layout: Layout, key: str, record: dict[str, Any], *, fsync: bool) -> dict[str, Any]:
    """Write the record of node ``key`` (missing fields None, "created" now); return it.

    ValueError if ``record["key"]`` differs from ``key``, the kind or digest is
    malformed, or the object is not in the cache.
    """
    path = layout.action_path(key)
    if "key" in record and record["key"] != key:
        raise ValueError(f"cache: record key {record['key']!r} differs from {key!r}")
    full = dict.fromkeys(ACTION_FIELDS) | record | {"key": key}
    if full["created"] is None:
        full["created"] = time.time()
    kind = check_kind(full["kind"], "action kind")
    if not layout.object_path(check_hex(full["digest"], "digest"), kind).is_file():
        raise ValueError(f"cache: action {key} points to missing {kind} object {full['digest']}")
    atomic_write_json(path, full, fsync=fsync)
    return full


def read_record(path: Path, key: str) -> tuple[dict[str, Any] | None, str]:
    """(record, "") or (None, reason) for the action file of ``key``; its object is not looked at.
    Raises FileNotFoundError if there is no such file."""
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
    if not isinstance(raw.get("digest"), str) or not HEX32.fullmatch(raw["digest"]):
        return None, f"invalid action: digest {raw.get('digest')!r}"
    preimage = raw.get("preimage")
    if preimage is not None and (not isinstance(preimage, dict) or node_key(preimage) != key):
        return None, "invalid action: its preimage is not the one its key names (a record of another node?)"
    expected = _stage_outputs().get(raw.get("stage"))  # type: ignore[arg-type]
    if expected is not None and raw["kind"] != expected:
        return None, f"invalid action: a {raw['stage']} node stores {expected}, not {raw['kind']}"
    return raw, ""


def _stage_outputs() -> dict[str, str]:
    """Stage kind -> the kind of object its nodes store (from the kernels' declared return types)."""
    from mixbuild.stages.registry import load_kinds

    return {name: kind.output for name, kind in load_kinds().items()}


def read_action(layout: Layout, key: str) -> dict[str, Any] | None:
    """The record of ``key`` as stored, even if its object is gone; None if absent or garbage."""
    try:
        return read_record(layout.action_path(key), key)[0]
    except FileNotFoundError:
        return None


def check_action(layout: Layout, key: str, *, verify: bool = True) -> tuple[str, dict[str, Any] | None]:
    """("ok" | "missing" | "corrupt", record) for node ``key``; "ok" touches what it serves (LRU).

    "missing": no action, or its object (or a blob its JSON references) is gone.
    "corrupt": the action file is garbage (record None), or the object's (or a
    referenced blob's) bytes no longer match its digest. The record is given
    whenever the action file is readable. ``verify=False`` skips hashing (the
    files then only have to exist).
    """
    try:
        record, _reason = read_record(layout.action_path(key), key)
    except FileNotFoundError:
        return "missing", None
    if record is None:
        return "corrupt", None
    target = layout.object_path(record["digest"], record["kind"])
    blobs = sorted(blob_refs(target)) if record["kind"] == "json" else []
    needed = [(target, record["digest"], record["kind"])]
    needed += [(layout.object_path(blob, "blob"), blob, "blob") for blob in blobs]
    for path, digest, kind in needed:  # an export manifest is only as good as its files
        status, _reason = check_object(path, digest, kind, verify=verify)
        if status != "ok":
            return status, record
    for path, _digest, _kind in needed:
        touch(path)
    return "ok", record
