"""Resolving a node's named inputs to digests: one function for build and plan alike."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Union

from .dag import SOURCE_PREFIX, Node
from .filememo import FileDigestMemo


@dataclass(frozen=True)
class Ref:
    """One resolved input: where it comes from (a source file's path or a node id), what it is, its digest."""

    source: str
    output: str  # "file" | "array" | "json"
    digest: str

    def as_list(self) -> list[str]:
        return [self.output, self.source, self.digest]


Resolved = dict[str, Union[Ref, list[Ref]]]


def resolve(node: Node, memo: FileDigestMemo, known: Mapping[str, tuple[str, str]]) -> tuple[Resolved, list[str]]:
    """(the inputs resolved so far, the upstream node ids not known yet). `known` maps a node id to its
    (output kind, digest); a source file is digested (memoised on its stat)."""
    unknown: list[str] = []

    def one(source: str) -> Ref | None:
        if (path := _path(source)) is not None:
            return Ref(path, "file", memo.digest(path))
        if source in known:
            output, digest = known[source]
            return Ref(source, output, digest)
        unknown.append(source)
        return None

    resolved: Resolved = {}
    for name, wire in node.inputs.items():
        if isinstance(wire, str):
            ref = one(wire)
            if ref is not None:
                resolved[name] = ref
        else:
            refs = [one(source) for source in wire]
            if all(r is not None for r in refs):
                resolved[name] = [r for r in refs if r is not None]
    return resolved, unknown


def digests(node: Node, resolved: Resolved) -> dict[str, Any]:
    """Input name -> digest (or list of digests) for the key; None where an input is not resolved yet."""
    return {name: _map(resolved.get(name), lambda r: r.digest) for name in node.inputs}


def _path(wire: str) -> str | None:
    """The file a source input names, None for a node's output."""
    return wire[len(SOURCE_PREFIX):] if wire.startswith(SOURCE_PREFIX) else None


def source_files(nodes: Iterable[Node]) -> list[str]:
    """The paths of the source files these nodes read (a stem's file)."""
    return [path for node in nodes for value in node.inputs.values()
            for wire in ([value] if isinstance(value, str) else value) if (path := _path(wire)) is not None]


def sources(node: Node) -> dict[str, Any]:
    """Input name -> source (file path or node id), or a list of them: what the action record explains with."""
    return {name: _map(wire, lambda s: _path(s) or s) for name, wire in node.inputs.items()}


def _map(value: Any, fn: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [fn(v) for v in value]
    return fn(value)
