"""Node keys: hash of (stage kind, code version, canonical params, input digests in order, library versions)."""

from __future__ import annotations

from functools import lru_cache

from stages.registry import StageKind

from .dag import Node
from .hashing import code_version, library_versions, node_key

DSP_LIBRARIES = ("numpy", "scipy", "soxr", "numba", "soundfile", "mutagen")


@lru_cache(maxsize=None)
def libraries() -> tuple[tuple[str, str], ...]:
    """Versions of the numerical libraries kernels call: a new scipy must never serve old audio."""
    return tuple(sorted(library_versions(DSP_LIBRARIES).items()))


def kind_code_version(kind: StageKind) -> str:
    """Declared version plus the AST digest of the stage module and the `stages/` modules it imports."""
    return code_version(kind.module, kind.version)


def params_of(node: Node) -> dict:
    """Canonical params: the node's own model dumped in JSON mode (sorted and 1 == 1.0 in the key)."""
    return node.params.model_dump(mode="json")


def key_of(node: Node, kind: StageKind, input_digests: list[str]) -> str:
    return node_key(node.kind, kind_code_version(kind), params_of(node), input_digests, dict(libraries()))
