"""Node keys: hash of (stage kind, code version, canonical params, input digests in order, library versions)."""

from __future__ import annotations

import json
import sys
import time
from functools import lru_cache
from pathlib import Path

from stages import registry
from stages.registry import StageKind

from .atomic import atomic_write_json
from .dag import Node
from .hashing import canonical_json, code_version, digest_bytes, library_versions, node_key

FRESH_S = 2.0
"""Files modified this recently are not trusted to the memo (an edit within one mtime tick)."""
_MEMO: dict[str, str] = {}

DSP_LIBRARIES = ("numpy", "scipy", "soxr", "numba", "soundfile", "mutagen")


@lru_cache(maxsize=None)
def libraries() -> tuple[tuple[str, str], ...]:
    """Versions of the numerical libraries kernels call: a new scipy must never serve old audio."""
    return tuple(sorted(library_versions(DSP_LIBRARIES).items()))


def kind_code_version(kind: StageKind) -> str:
    """Declared version plus the AST digest of the stage module and the `stages/` modules it imports."""
    if kind.name not in _MEMO:
        _MEMO[kind.name] = code_version(kind.module, kind.version)
    return _MEMO[kind.name]


def load_code_versions(kinds: dict[str, StageKind], memo_dir: Path) -> None:
    """Fill the per-process memo from `memo_dir`, valid while no file under stages/ changed.

    Parsing the ASTs costs ~0.5 s, most of a no-op build; the memo is keyed by every stages/ file's
    (path, size, mtime_ns) and the Python version, and is not written while a file is being edited.
    """
    files = sorted(Path(registry.__file__).parent.rglob("*.py"))
    stats = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    signature = digest_bytes(canonical_json([sys.version, stats]).encode())
    path = memo_dir / "code-versions.json"
    try:
        memo = json.loads(path.read_text())
        if memo.get("signature") == signature and set(kinds) <= set(memo["versions"]):
            _MEMO.update(memo["versions"])
            return
    except (OSError, ValueError, AttributeError, TypeError):
        pass  # no memo or a garbage one: compute
    versions = {name: kind_code_version(kind) for name, kind in kinds.items()}
    if all(time.time() - mtime / 1e9 > FRESH_S for _, _, mtime in stats):
        atomic_write_json(path, {"signature": signature, "versions": versions}, fsync=False)


def params_of(node: Node) -> dict:
    """Canonical params: the node's own model dumped in JSON mode (sorted and 1 == 1.0 in the key)."""
    return node.params.model_dump(mode="json")


def key_of(node: Node, kind: StageKind, input_digests: list[str]) -> str:
    return node_key(node.kind, kind_code_version(kind), params_of(node), input_digests, dict(libraries()))
