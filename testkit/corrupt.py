"""Cache damage: objects flipped, truncated or deleted in place; garbage written over action records."""

from __future__ import annotations

import random
from pathlib import Path

from mixbuild.pipeline.cache import Cache

DAMAGES = ("flip", "truncate", "delete")

# ``%(key)s`` is replaced by the record's own key, so the record looks like it belongs where it lies
GARBAGE = (b"", b"\x00\xff\xfe garbage \x80", b"[]", b"null", b"{", b'{"key": "nope"}',
           b'{"key": "%(key)s", "kind": "array", "digest": "zz"}',
           b'{"key": "%(key)s", "kind": "pickle", "digest": "%(key)s"}',
           b'{"key": "%(key)s", "kind": "array", "digest": "0123456789abcdef0123456789abcdef"}')


def damage_object(path: Path, how: str, rng: random.Random) -> None:
    """Damage a cache object ``how`` (one of DAMAGES), in place as bit rot or a careless tool would."""
    if how == "delete":
        path.unlink()
        return
    data = bytearray(path.read_bytes())
    if how == "flip":
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    else:
        data = data[: rng.randrange(len(data))]
    path.write_bytes(bytes(data))


def write_garbage(path: Path, data: bytes) -> bytes:
    """Overwrite an action record with one GARBAGE entry, its ``%(key)s`` filled in; returns the bytes."""
    if b"%(" in data:
        data = data % {b"key": path.stem.encode()}
    path.write_bytes(data)
    return data


def garbage_action(path: Path, rng: random.Random) -> bytes:
    """Overwrite an action record with a random GARBAGE entry."""
    return write_garbage(path, rng.choice(GARBAGE))


def nodes_hit(nodes: list[dict], cache: Cache, damaged_digests: set[str]) -> set[str]:
    """Ids of report nodes whose output object, or a blob their JSON output references, was damaged."""
    hit = set()
    for node in nodes:
        refs = {node["digest"]}
        if node["output"] == "json":
            refs |= cache.blob_refs(node["digest"])
        if refs & damaged_digests:
            hit.add(node["id"])
    return hit
