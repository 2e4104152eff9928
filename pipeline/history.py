"""The last resolved state of every node of a spec: what `plan` compares against to say *why*."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .atomic import atomic_write_json
from .cache import Cache
from .hashing import digest_bytes


class History:
    """Per spec file, per node id: key, code version, params, input digests, library versions."""

    def __init__(self, cache: Cache, spec_path: Path):
        self.root = Path(cache.root) / "history" / digest_bytes(str(Path(spec_path).resolve()).encode())[:16]

    def _path(self, node_id: str) -> Path:
        return self.root / f"{digest_bytes(node_id.encode())}.json"

    def record(self, node_id: str, state: dict[str, Any]) -> None:
        path = self._path(node_id)
        if self.last(node_id) != state:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(path, state, fsync=False)

    def last(self, node_id: str) -> dict[str, Any] | None:
        """The node's state at its last build, or None (never built, or the record is unreadable)."""
        try:
            state = json.loads(self._path(node_id).read_bytes())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None


def changed_fields(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted names of the fields that differ between two JSON-mode param dumps."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for name in sorted(set(old) | set(new)):
            out += changed_fields(old.get(name), new.get(name), f"{prefix}{name}.")
        return out
    return [] if old == new else [prefix.rstrip(".") or "(all)"]


def reasons(last: dict | None, state: dict, unknown_inputs: list[str]) -> list[str]:
    """Why a node must render, in words: new, code changed, params changed: x, input changed: y."""
    if last is None:
        return ["new"]
    out = []
    if last.get("code") != state["code"]:
        out.append("code changed")
    if last.get("libs") != state["libs"]:
        out.append("library versions changed")
    fields = changed_fields(last.get("params"), state["params"])
    if fields:
        out.append("params changed: " + ", ".join(fields))
    old_inputs = dict(map(tuple, last.get("inputs", [])))
    for ref, digest in state["inputs"]:
        if old_inputs.get(ref) != digest:
            out.append(f"input changed: {ref}")
    out += [f"input re-renders: {ref}" for ref in unknown_inputs]
    return out or ["cache entry missing"]
