"""The node key, in one screen. A node's key is the digest of its *preimage*:

    {"kind": stage kind, "code": its code version, "params": the params model dumped as JSON,
     "inputs": {input name: digest, or [digests] for a list input}, "libs": {library: version}}

written as canonical JSON (sorted keys, 1.0 == 1). Equal preimages render equal bytes, so a key names an
output. The action record stores the preimage beside the output's digest (as Bazel keeps the action beside
its digest), so any key can be explained later: `diff` says what differs between two preimages.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from .digest import canonical_json, digest_bytes

DSP_LIBRARIES = ("numpy", "scipy", "soxr", "numba", "soundfile", "mutagen")
"""The libraries kernels call: a new scipy must never serve old audio."""


@lru_cache(maxsize=None)
def _installed(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    found = []
    for name in names:
        try:
            found.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            continue
    return tuple(found)


def library_versions(names: tuple[str, ...] = DSP_LIBRARIES) -> dict[str, str]:
    """Installed versions of the libraries a stage calls; missing ones are absent."""
    return dict(_installed(names))


def preimage(kind: str, code: str, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """What a node's key hashes; `inputs` maps each input name to a digest (or a list of digests)."""
    return {"kind": kind, "code": code, "params": params, "inputs": inputs, "libs": library_versions()}


def node_key(image: dict[str, Any]) -> str:
    """The key: digest of the preimage's canonical JSON."""
    return digest_bytes(canonical_json(image).encode("utf-8"))


@dataclass
class Changes:
    """What differs between a node's last built preimage and its preimage now, as data."""

    new: bool = False
    """No earlier build of this node is known."""
    record_lost: bool = False
    """Built before, but that build's action record is gone (pruned) or unreadable: what changed is unknown."""
    code: bool = False
    libs: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    """Per changed input: {"input": name, "ref": source file or node id, "was": digest, "now": digest}."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def diff(old: dict[str, Any] | None, new: dict[str, Any], old_refs: dict[str, Any], new_refs: dict[str, Any]) -> Changes:
    """Changes from `old` to `new` (preimages; a digest of None in `new` is not known yet and not compared)."""
    if old is None:
        return Changes(new=True)
    libs = sorted(n for n in set(old.get("libs", {})) | set(new["libs"]) if old.get("libs", {}).get(n) != new["libs"].get(n))
    return Changes(code=old.get("code") != new["code"], libs=libs,
                   params=changed_fields(old.get("params"), new["params"]),
                   inputs=_changed_inputs(_pairs(old.get("inputs", {}), old_refs), _pairs(new["inputs"], new_refs)))


def changed_fields(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted names of the fields that differ between two JSON-mode param dumps."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for name in sorted(set(old) | set(new)):
            out += changed_fields(old.get(name), new.get(name), f"{prefix}{name}.")
        return out
    return [] if old == new else [prefix.rstrip(".") or "(all)"]


def _pairs(digests: dict[str, Any], refs: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """(input name, ref) -> digest, flattening list inputs; inputs not resolved yet (None) are left out."""
    out: dict[tuple[str, str], Any] = {}
    for name, digest in digests.items():
        ref = refs.get(name)
        if isinstance(digest, list) and isinstance(ref, list):
            out.update({(name, r): d for r, d in zip(ref, digest)})
        elif isinstance(digest, str):
            out[(name, str(ref))] = digest
    return out


def _changed_inputs(old: dict[tuple[str, str], Any], new: dict[tuple[str, str], Any]) -> list[dict[str, Any]]:
    """Inputs whose digest differs or that are new, then inputs that are gone (of names resolved now)."""
    changed = [{"input": n, "ref": r, "was": old.get((n, r)), "now": d}
               for (n, r), d in new.items() if old.get((n, r)) != d]
    names = {n for n, _ in new}
    return changed + [{"input": n, "ref": r, "was": d, "now": None}
                      for (n, r), d in old.items() if n in names and (n, r) not in new]
