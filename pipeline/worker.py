"""Rendering one node, in any process: load its inputs from the cache, run its kernel, store the output.

A task carries JSON-able values only (kind, params, `[output, source, digest]` per named input, key,
preimage), never arrays, so it runs the same on a thread, a loky worker or a dask worker sharing the cache.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mixbuild.stages.registry import (ARRAY_HASHER, FILE_HASHER, NOTES, SCRATCH_FILES, AudioFile, Blob,
                                      NonFiniteAudio, RenderError, SplicedFile, StageKind, load_kinds)
from mixbuild.stages.wav import Part

from .cache import Cache
from .codeversion import kind_code_version
from .dag import Node
from .digest import array_hasher, digest_blocks, digest_file, file_hasher
from .filememo import stat_signature
from .inputs import Resolved, digests, sources
from .key import node_key, preimage


@dataclass(frozen=True)
class Task:
    """A cache miss to render: everything a worker needs, as JSON-able values (no arrays)."""

    node_id: str
    kind: str
    key: str
    params: dict[str, Any]
    inputs: dict[str, Any]
    """Input name -> [output, source, digest], or a list of those."""
    preimage: dict[str, Any]
    refs: dict[str, Any]


def wire_refs(resolved: Resolved) -> dict[str, Any]:
    """Resolved inputs as JSON-able lists, for a task and the build report."""
    return {name: [r.as_list() for r in ref] if isinstance(ref, list) else ref.as_list()
            for name, ref in resolved.items()}


def task_for(node: Node, kind: StageKind, resolved: Resolved) -> Task:
    """The node's preimage and key from its resolved inputs."""
    params = node.params.model_dump(mode="json")
    image = preimage(node.kind, kind_code_version(kind), params, digests(node, resolved))
    return Task(node.id, node.kind, node_key(image), params, wire_refs(resolved), image, sources(node))


def ready_worker() -> None:
    """A loky worker's start (its initializer): the stages imported and numba's code generator loaded by one
    small kernel (scipy.linalg, LLVM: ~0.3 s), so its first task renders at speed; workers the plan starts
    early (`Pools.expect`) do it while the build still plans."""
    from mixbuild.stages.dsp.warmup import load_code_generator

    load_kinds()
    load_code_generator()


def run_task(cache_root: str, task: Task) -> tuple[str, str, float, list[str]]:
    """Render one node in any process: load inputs from the cache, run the kernel, store the output;
    (digest, output kind, seconds, the kernel's notes)."""
    kind = load_kinds()[task.kind]
    cache = Cache(cache_root)
    values = {name: _load_wire(cache, wire) for name, wire in task.inputs.items()}
    node_id = task.node_id
    scratch: list[Path] = []

    def scratch_file(suffix: str) -> Path:
        scratch.append(cache.scratch_file(suffix))
        return scratch[-1]

    notes: list[str] = []
    token, noting = SCRATCH_FILES.set(scratch_file), NOTES.set(notes.append)
    hashing, file_hashing = ARRAY_HASHER.set(array_hasher), FILE_HASHER.set(file_hasher)
    try:
        started = time.perf_counter()
        read = _verified_sources(task)
        try:
            out = kind.render(kind.inputs(**values), kind.params.model_validate(task.params))
        except NonFiniteAudio as err:
            raise RenderError(f"{node_id}: {err}") from None
        except (ValueError, MemoryError) as err:  # a kernel refusing its input is a render failure, not a crash
            raise RenderError(f"{node_id}: {type(err).__name__}: {err}") from None
        _unchanged_since(read, node_id)
        seconds = time.perf_counter() - started
        if isinstance(out, AudioFile):  # written block by block: moved in, never loaded whole
            digest, output = cache.put_array_file(out.path, out.digest), "array"
        elif isinstance(out, np.ndarray):
            if not np.isfinite(out).all():
                raise RenderError(f"{node_id}: kernel produced NaN or Inf samples")
            digest, output = cache.put_array(np.ascontiguousarray(out, dtype=np.float32)), "array"
        else:
            digest, output = cache.put_json(_store_blobs(cache, out, set(scratch))), "json"
    finally:
        SCRATCH_FILES.reset(token)
        NOTES.reset(noting)
        ARRAY_HASHER.reset(hashing)
        FILE_HASHER.reset(file_hashing)
        for path in scratch:  # moved into the cache, or left by a failed kernel
            path.unlink(missing_ok=True)
    cache.put_action(task.key, {"digest": digest, "kind": output, "stage": task.kind, "node_id": node_id,
                                "seconds": round(seconds, 6), "preimage": task.preimage, "refs": task.refs,
                                "notes": notes})
    return digest, output, seconds, notes


def _file_refs(wire: Any) -> list[tuple[str, str]]:
    """(path, planned digest) of the source files among one named input's refs."""
    refs = [wire] if wire and isinstance(wire[0], str) else wire
    return [(source, digest) for output, source, digest in refs if output == "file"]


def _verified_sources(task: Task) -> dict[str, dict[str, int]]:
    """Each source file's stat signature once its bytes are hashed and match the digest the node's key was
    built from: a file changed since the build planned it (a stem re-bounced mid-build, another copy on a
    stale mount) is refused, so no output enters the cache under a key its content does not match."""
    read = {}
    for wire in task.inputs.values():
        for path, planned in _file_refs(wire):
            try:
                st = os.stat(path)
                if not stat.S_ISREG(st.st_mode):  # replaced by a FIFO or device since validation: never read it
                    raise RenderError(f"{path}: is not a regular file; build again")
                before = stat_signature(st)
                digest = digest_file(path)
            except OSError as err:
                raise RenderError(f"{path}: cannot be read ({err.strerror or err})") from None
            if digest != planned:
                raise RenderError(f"{path}: changed since this build planned it (its bytes no longer match "
                                  f"the digest {task.node_id} was keyed on); build again")
            read[path] = before
    return read


def _unchanged_since(read: dict[str, dict[str, int]], node_id: str) -> None:
    """The kernel read the bytes that were hashed: no source file was written, replaced or touched meanwhile
    (size, mtime, inode and ctime, which no user tool sets back, all unchanged)."""
    for path, before in read.items():
        try:
            same = stat_signature(os.stat(path)) == before
        except OSError:
            same = False
        if not same:
            raise RenderError(f"{path}: changed while {node_id} read it; build again")


def _load_wire(cache: Cache, wire: list[Any]) -> Any:
    """One named input's value: a single [output, source, digest], or a list of them."""
    if wire and isinstance(wire[0], str):
        return _load_input(cache, *wire)
    return [_load_input(cache, *ref) for ref in wire]


def _load_input(cache: Cache, output: str, source: str, digest: str) -> Any:
    """An input's value for a kernel: a source file's path, an array (memory-mapped), or a decision."""
    if output == "file":
        return Path(source)
    if output == "array":
        return cache.load_array(digest)
    return _resolve_blobs(cache, cache.load_json(digest))


def _store_blobs(cache: Cache, value: Any, scratch: set[Path]) -> Any:
    """Replace every Blob in a kernel's JSON output by a reference to a stored cache object
    (its bytes, or its file: moved in when it is one of this render's `scratch` files, else copied)."""
    if isinstance(value, Blob):
        if isinstance(value.data, Path):
            digest = cache.put_blob_file(value.data, move=value.data in scratch)
        else:
            digest = cache.put_blob(value.data, value.suffix)
        return {"blob": digest, "suffix": value.suffix}
    if isinstance(value, SplicedFile):  # its pieces are blobs, so the cache verifies and keeps them
        parts = [{"zeros": count} if path is None else
                 {"blob": cache.put_blob_file(path, move=path in scratch), "offset": offset, "bytes": count}
                 for path, offset, count in value.parts]
        # its digest as the kernel's sha256 pass took it, or as stored; delivery checks the pieces against it
        return {"spliced": {"head": {"blob": cache.put_blob(value.head)}, "parts": parts,
                            "tail": {"blob": cache.put_blob(value.tail)},
                            "digest": value.digest or digest_blocks(value.blocks())},
                "suffix": value.suffix}
    if isinstance(value, dict):
        return {k: _store_blobs(cache, v, scratch) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_store_blobs(cache, v, scratch) for v in value]
    return value


def stored_parts(cache: Cache, spliced: dict[str, Any]) -> list[Part]:
    """The pieces of a file the cache keeps spliced (as `_store_blobs` stored them), between its head and tail:
    ranges of stored blobs, or zeros."""
    return [(None, 0, int(part["zeros"])) if "zeros" in part else
            (cache.blob_path(part["blob"]), int(part["offset"]), int(part["bytes"])) for part in spliced["parts"]]


def _resolve_blobs(cache: Cache, value: Any) -> Any:
    """Give kernels paths to stored blobs where their JSON input references them, and a `SplicedFile` (its
    pieces in the cache) where it references a file kept spliced."""
    if isinstance(value, dict):
        if set(value) == {"blob", "suffix"}:
            return cache.blob_path(value["blob"])
        if set(value) == {"spliced", "suffix"}:
            spliced = value["spliced"]
            return SplicedFile(cache.blob_path(spliced["head"]["blob"]).read_bytes(), stored_parts(cache, spliced),
                               cache.blob_path(spliced["tail"]["blob"]).read_bytes(), value["suffix"],
                               spliced["digest"])
        return {k: _resolve_blobs(cache, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_blobs(cache, v) for v in value]
    return value
