"""`plan`: which nodes would render and why, without rendering anything."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from stages.registry import load_kinds

from .cache import Cache
from .dag import SOURCE_PREFIX, Node
from .history import History, reasons
from .keys import key_of, kind_code_version, libraries, load_code_versions, params_of


@dataclass
class PlanEntry:
    id: str
    stage: str
    status: str  # "cached" | "render"
    reasons: list[str]

    def as_dict(self) -> dict:
        return asdict(self)


def node_state(node: Node, code: str, refs: list[tuple[str, str]]) -> dict:
    """What History keeps of a node: enough to explain the next change in words."""
    return {"code": code, "libs": dict(libraries()), "params": params_of(node), "inputs": [list(r) for r in refs]}


def make_plan(nodes: dict[str, Node], cache: Cache, history: History) -> list[PlanEntry]:
    kinds = load_kinds()
    load_code_versions(kinds, Path(cache.root) / "memo")
    memo = cache.file_digest_memo()
    cached: dict[str, str] = {}
    entries = []
    for node_id, node in nodes.items():
        kind = kinds[node.kind]
        refs, unknown = [], []
        for source in node.inputs:
            if source.startswith(SOURCE_PREFIX):
                refs.append((source[len(SOURCE_PREFIX):], memo.digest(source[len(SOURCE_PREFIX):])))
            elif source in cached:
                refs.append((source, cached[source]))
            else:
                unknown.append(source)
        state = node_state(node, kind_code_version(kind), refs)
        if not unknown:
            status, record = cache.check_action(key_of(node, kind, [d for _, d in refs]))
            if status == "ok":
                cached[node_id] = record["digest"]
                entries.append(PlanEntry(node_id, node.kind, "cached", []))
                continue
            if status == "corrupt":
                entries.append(PlanEntry(node_id, node.kind, "render", ["cache entry corrupt"]))
                continue
            if record is not None:
                entries.append(PlanEntry(node_id, node.kind, "render", ["cache entry missing"]))
                continue
        entries.append(PlanEntry(node_id, node.kind, "render", reasons(history.last(node_id), state, unknown)))
    return entries
