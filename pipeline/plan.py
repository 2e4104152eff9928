"""`plan` and `explain`: which nodes would render and exactly why, without rendering anything.

"Why" compares a node's preimage now with the one stored in the action record of its last build; the last
build's keys are read from the build report in the output folder (`build-report.json`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixbuild.stages.registry import load_kinds

from .cache import Cache
from .codeversion import kind_code_version, load_code_versions
from .dag import Node
from .inputs import digests, resolve, sources
from .key import Changes, diff, node_key, preimage


@dataclass
class PlanEntry:
    """One node: cached or to render, the reasons in words and the changes as data."""

    id: str
    stage: str
    status: str  # "cached" | "render"
    reasons: list[str]
    changes: Changes | None = None
    upstream: list[str] = field(default_factory=list)
    """Inputs that re-render first (their digests, hence this node's key, are not known yet)."""
    key: str | None = None
    last_key: str | None = None
    preimage: dict[str, Any] | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "stage": self.stage, "status": self.status, "reasons": self.reasons,
                "changes": self.changes.as_dict() if self.changes else None, "upstream": self.upstream,
                "key": self.key, "last_key": self.last_key}


def _last_report_nodes(out_dir: Path) -> list[dict[str, Any]]:
    """The node records of the last build delivered into `out_dir` (none when there is none or it is garbage)."""
    try:
        nodes = json.loads((out_dir / "build-report.json").read_bytes())["nodes"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return []
    return [n for n in nodes if isinstance(n, dict) and isinstance(n.get("id"), str)] if isinstance(nodes, list) else []


def last_build_keys(out_dir: Path) -> dict[str, str]:
    """Node id -> key of the last build delivered into `out_dir`."""
    return {n["id"]: n["key"] for n in _last_report_nodes(out_dir) if isinstance(n.get("key"), str)}


def last_render_seconds(out_dir: Path) -> dict[str, float]:
    """Node id -> seconds its output took to render, as the last build into `out_dir` reported it (its own
    render, or a hit's recorded one): the scheduler's estimates of what each node costs."""
    return {n["id"]: seconds for n in _last_report_nodes(out_dir)
            if (seconds := seconds_or_none(n.get("render_seconds"))) is not None}


def seconds_or_none(value: Any) -> float | None:
    """`value` as a duration read back from JSON (a report, an action record): a finite number >= 0, else None
    (missing, null, a bool, text, NaN, Infinity, negative, or an integer too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def make_plan(nodes: dict[str, Node], cache: Cache, last_keys: dict[str, str]) -> list[PlanEntry]:
    """Every node's entry, in topological order."""
    kinds = load_kinds()
    load_code_versions(kinds, Path(cache.root) / "memo")
    memo = cache.file_digest_memo()
    cache.recall_verified()
    known: dict[str, tuple[str, str]] = {}  # cached node id -> (output kind, digest)
    entries = []
    for node_id, node in nodes.items():
        resolved, unknown = resolve(node, memo, known)
        image = preimage(node.kind, kind_code_version(kinds[node.kind]), node.params.model_dump(mode="json"),
                         digests(node, resolved))
        entry = PlanEntry(node_id, node.kind, "render", [], upstream=unknown, last_key=last_keys.get(node_id),
                          preimage=image)
        if not unknown:
            entry.key = node_key(image)
            status, record = cache.check_action(entry.key)
            if status == "ok" and record is not None:
                known[node_id] = (record["kind"], record["digest"])
                entry.status = "cached"
            elif status == "corrupt":
                entry.reasons = ["cache entry corrupt"]
            elif record is not None:
                entry.reasons = ["cache entry missing"]
        if entry.status == "render" and not entry.reasons:
            last = cache.read_action(entry.last_key) if entry.last_key else None
            old = last.get("preimage") if last else None
            if isinstance(old, dict) or entry.last_key is None:
                entry.changes = diff(old if isinstance(old, dict) else None, image, (last or {}).get("refs") or {},
                                     sources(node))
            else:
                entry.changes = Changes(record_lost=True)
            entry.reasons = reasons(entry.changes, unknown)
        entries.append(entry)
    memo.flush()
    cache.remember_verified()
    return entries


def reasons(changes: Changes, upstream: list[str]) -> list[str]:
    """Why a node must render, in words: new, code changed, params changed: x, input changed: y, ..."""
    if changes.new:
        return ["new"]
    out = ["last build's record is gone (pruned?)"] if changes.record_lost else []
    out += ["code changed"] if changes.code else []
    if changes.libs:
        out.append("library versions changed: " + ", ".join(changes.libs))
    if changes.params:
        out.append("params changed: " + ", ".join(changes.params))
    out += [f"input changed: {c['ref']}" for c in changes.inputs]
    if upstream:
        out.append("input re-renders: " + ", ".join(upstream))
    return out or ["cache entry missing"]


def explain(entry: PlanEntry, cache: Cache) -> dict[str, Any]:
    """A node's stored preimage from its last build, its preimage now, and what differs."""
    last = cache.read_action(entry.last_key) if entry.last_key else None
    return {"node": entry.id, "stage": entry.stage, "status": entry.status, "reasons": entry.reasons,
            "changes": entry.changes.as_dict() if entry.changes else None, "upstream": entry.upstream,
            "key_now": entry.key, "preimage_now": entry.preimage,
            "last_build": None if last is None else {
                "key": entry.last_key, "digest": last.get("digest"), "preimage": last.get("preimage"),
                "refs": last.get("refs"), "seconds": last.get("seconds"), "created": last.get("created")}}
