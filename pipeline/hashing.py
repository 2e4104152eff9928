"""Digests and cache keys: bytes, arrays, files, canonical JSON, stage code versions.

Every digest is xxh3-128 as 32 lowercase hex characters (xxh3 hashes ~18 GB/s
here, sha256 1.8 GB/s; see PERF.md). These digests detect change and corruption;
they are not a defence against someone crafting collisions.

A node's cache key (DESIGN.md, "The DAG") is ``node_key``: the digest of the
canonical JSON of (stage kind, code version, params, input digests, library
versions). Changing anything here changes every key; tests pin the digests.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import importlib.util
import json
import math
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from pipeline.atomic import atomic_write_json

__all__ = [
    "FileDigestMemo",
    "canonical_json",
    "clear_code_version_memo",
    "code_version",
    "digest_array",
    "digest_bytes",
    "digest_file",
    "library_versions",
    "node_key",
]

CHUNK_BYTES = 4 * 1024 * 1024
"""Files and non-contiguous arrays are hashed in blocks of this size (4 MiB)."""

RACY_WINDOW_NS = 2_000_000_000
"""A file modified less than this long before it was hashed is not memoised.

A write in the same timestamp tick as our read could change the bytes without
changing (size, mtime_ns); git calls these "racily clean" entries. 2 s covers
coarse filesystems (FAT: 2 s, HFS+: 1 s); a fresh file is simply re-read once."""


# --------------------------------------------------------------------- bytes / arrays


def digest_bytes(data: bytes | bytearray | memoryview) -> str:
    """xxh3-128 hex digest (32 chars) of ``data``."""
    return xxhash.xxh3_128_hexdigest(data)


def _array_header(arr: np.ndarray) -> bytes:
    """Dtype and shape, so equal bytes under another dtype or shape hash differently."""
    if arr.dtype.hasobject:
        raise TypeError(f"digest_array: object arrays have no stable bytes (dtype {arr.dtype})")
    meta: dict[str, Any] = {"dtype": arr.dtype.str, "shape": list(arr.shape)}
    if arr.dtype.fields is not None:  # structured: dtype.str ('|V8') drops field names
        meta["descr"] = [list(map(str, field)) for field in arr.dtype.descr]
    return ("ndarray:" + canonical_json(meta) + "\n").encode("utf-8")


def _c_order_blocks(arr: np.ndarray) -> Iterator[memoryview]:
    """The array's bytes in C order, in blocks of about CHUNK_BYTES, never copying it whole.

    Strided views are copied block by block into one reused buffer (first touch of
    fresh memory is slow on these machines, see PERF.md).
    """
    if arr.flags.c_contiguous:
        yield memoryview(arr.reshape(-1).view(np.uint8))
        return
    row_bytes = arr[0].nbytes if arr.ndim and arr.shape[0] else 0
    if arr.ndim > 1 and row_bytes > CHUNK_BYTES:  # e.g. a transposed (channels, frames) view
        for row in arr:
            yield from _c_order_blocks(row)
        return
    step = max(1, CHUNK_BYTES // max(1, row_bytes))
    buffer = np.empty((min(step, arr.shape[0]), *arr.shape[1:]), dtype=arr.dtype)
    for start in range(0, arr.shape[0], step):
        block = arr[start : start + step]
        out = buffer[: block.shape[0]]
        np.copyto(out, block)
        yield memoryview(out.reshape(-1).view(np.uint8))


def digest_array(arr: np.ndarray) -> str:
    """Digest of an array's dtype (``dtype.str``), shape and C-order bytes.

    A contiguous array (or read-only memmap) is hashed in place; a strided view is
    copied block by block (4 MiB), never whole. The memory layout (C/Fortran,
    strides) does not change the digest; the values, dtype and shape do.
    """
    arr = np.asarray(arr)
    hasher = xxhash.xxh3_128(_array_header(arr))
    for block in _c_order_blocks(arr):
        hasher.update(block)
    return hasher.hexdigest()


# --------------------------------------------------------------------- files


def _stream_digest(path: str) -> str:
    """Digest of a file's bytes, read in CHUNK_BYTES blocks into one reused buffer."""
    hasher = xxhash.xxh3_128()
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buffer):
            hasher.update(view[:n])
    return hasher.hexdigest()


def _stat_sig(st: os.stat_result) -> dict[str, int]:
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


class FileDigestMemo:
    """Digests of files memoised on (realpath, size, mtime_ns, inode) in a JSON file.

    Unchanged source files are not re-read, in this process or the next. The memo
    is only a cache: a corrupt or foreign memo file is ignored and rewritten;
    concurrent processes merge their entries on write (atomic replace, last
    writer wins for a given path). Files modified within RACY_WINDOW_NS of
    being hashed, or changed while being read, are not memoised.
    """

    VERSION = 1

    def __init__(self, memo_path: str | os.PathLike[str]) -> None:
        self.memo_path = Path(memo_path)
        self._entries: dict[str, dict[str, Any]] | None = None

    def _read_disk(self) -> dict[str, dict[str, Any]]:
        try:
            doc = json.loads(self.memo_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # missing, unreadable, or not JSON: start afresh
            return {}
        if not isinstance(doc, dict) or doc.get("version") != self.VERSION:
            return {}
        entries = doc.get("entries")
        if not isinstance(entries, dict):
            return {}
        return {k: v for k, v in entries.items() if isinstance(v, dict)}

    def _entries_now(self) -> dict[str, dict[str, Any]]:
        if self._entries is None:
            self._entries = self._read_disk()
        return self._entries

    def lookup(self, path: str | os.PathLike[str]) -> str | None:
        """The memoised digest of ``path`` if the file is unchanged, else None (no read)."""
        real = os.path.realpath(path)
        entry = self._entries_now().get(real)
        if entry is None:
            return None
        sig = _stat_sig(os.stat(real))
        if all(entry.get(k) == v for k, v in sig.items()) and isinstance(entry.get("digest"), str):
            return entry["digest"]
        return None

    def digest(self, path: str | os.PathLike[str]) -> str:
        """Digest of the file's bytes; read only if (size, mtime_ns, inode) changed."""
        real = os.path.realpath(path)
        before = os.stat(real)
        sig = _stat_sig(before)
        entry = self._entries_now().get(real)
        if entry is not None and isinstance(entry.get("digest"), str):
            if all(entry.get(k) == v for k, v in sig.items()):
                return entry["digest"]
        started_ns = time.time_ns()
        digest = _stream_digest(real)
        after = _stat_sig(os.stat(real))
        racy = started_ns - before.st_mtime_ns < RACY_WINDOW_NS
        if after == sig and not racy:
            self._remember(real, {**sig, "digest": digest})
        return digest

    def _remember(self, real: str, entry: dict[str, Any]) -> None:
        merged = self._read_disk()  # keep what other processes memoised meanwhile
        merged.update({k: v for k, v in self._entries_now().items() if k not in merged})
        merged[real] = entry
        self._entries = merged
        try:
            atomic_write_json(self.memo_path, {"version": self.VERSION, "entries": merged}, fsync=False)
        except OSError:  # read-only location: the memo is an optimisation, never an error
            pass


def digest_file(path: str | os.PathLike[str], memo: FileDigestMemo | None = None) -> str:
    """Digest of a file's bytes (4 MiB blocks); memoised across processes when ``memo`` is given."""
    if memo is not None:
        return memo.digest(path)
    return _stream_digest(os.fspath(path))


# --------------------------------------------------------------------- canonical JSON


def _normalise(obj: Any) -> Any:
    """Make equal values serialise equally: integral floats -> int, tuples -> lists."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, np.generic):  # numpy scalars -> Python scalars
        return _normalise(obj.item())
    if isinstance(obj, float):
        if math.isfinite(obj) and obj.is_integer():
            return int(obj)
        return obj  # NaN/inf are rejected by json.dumps(allow_nan=False)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"canonical_json: keys must be str (got {key!r})")
            out[key] = _normalise(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [_normalise(v) for v in obj]
    raise TypeError(f"canonical_json: cannot encode {type(obj).__name__} ({obj!r})")


def canonical_json(obj: Any) -> str:
    """One JSON text per value: sorted keys, no spaces, UTF-8, ``1.0`` written as ``1``.

    Raises TypeError for non-str keys or non-JSON types, ValueError for NaN/inf.
    """
    return json.dumps(
        _normalise(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


# --------------------------------------------------------------------- code versions


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    """Drop module/class/function docstrings: they never change the audio."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:]
    return tree


def _find_spec(name: str):
    """Locate a module without importing it or its parent packages.

    ``importlib.util.find_spec`` imports parent packages, which would run e.g. a
    stage registry in ``stages/__init__.py``; instead walk ``sys.meta_path`` with
    each parent's search locations (this also sees editable-install finders).
    """
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__spec__", None) is not None:
        return module.__spec__
    parent, _, _ = name.rpartition(".")
    search = None
    if parent:
        parent_spec = _find_spec(parent)
        if parent_spec is None or parent_spec.submodule_search_locations is None:
            return None
        search = list(parent_spec.submodule_search_locations)
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        if find is None:
            continue
        spec = find(name, search)
        if spec is not None:
            return spec
    return None


def _find_spec_quiet(name: str):
    try:
        return _find_spec(name)
    except (ImportError, ValueError):
        return None


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _imports(tree: ast.AST, module_name: str, is_package: bool) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Every import statement as (absolute module, imported names); ``()`` for ``import m``.

    Relative imports are resolved against the module's package. Imports inside
    functions and ``try`` blocks count too (conservative).
    """
    package = module_name if is_package else module_name.rpartition(".")[0]
    found: set[tuple[str, tuple[str, ...]]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update((alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                try:
                    base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
                except (ImportError, ValueError):  # beyond the top-level package
                    continue
            else:
                base = node.module or ""
            found.add((base, tuple(sorted(alias.name for alias in node.names))))
    return tuple(sorted(found))


@functools.lru_cache(maxsize=None)
def _module_fingerprint(name: str) -> tuple[str, tuple[tuple[str, tuple[str, ...]], ...], bool] | None:
    """(digest of the docstring-free AST, its imports, is_package) of a module, or None if absent."""
    spec = _find_spec_quiet(name)
    if spec is None:
        return None
    is_package = spec.submodule_search_locations is not None
    origin = spec.origin
    if not origin or not spec.has_location or not os.path.isfile(origin):
        return ("namespace-or-builtin", (), is_package)
    if not origin.endswith(".py"):  # compiled extension: its bytes are its code
        return (_stream_digest(origin), (), is_package)
    source = Path(origin).read_bytes()
    tree = _strip_docstrings(ast.parse(source, filename=origin))
    dump = ast.dump(tree, annotate_fields=True, include_attributes=False)
    return (digest_bytes(dump.encode("utf-8")), _imports(tree, name, is_package), is_package)


@functools.lru_cache(maxsize=None)
def code_version(module_name: str, declared_version: str, package_prefix: str = "stages") -> str:
    """Digest of a stage's declared version and the code it runs.

    Covers the AST (no comments, formatting, line numbers or docstrings) of
    ``module_name`` and, transitively, of every module under ``package_prefix``
    it imports (absolute or relative, top level or inside functions). Parent
    packages' ``__init__`` count only if imported by name (``from pkg import x``
    where ``x`` is not a module), so a registry in ``stages/__init__.py`` does not
    tie every stage to every other. Nothing is imported; results are memoised per
    process (``clear_code_version_memo`` resets them). The Python version shapes
    ``ast.dump``, so a new Python yields new code versions (conservative).
    """
    modules: dict[str, str | None] = {}  # module name -> AST digest (None: imported but absent)
    pending = [module_name]
    while pending:
        name = pending.pop()
        if name in modules:
            continue
        fingerprint = _module_fingerprint(name)
        if fingerprint is None:
            if name == module_name:
                raise ModuleNotFoundError(f"code_version: no module named {module_name!r}")
            modules[name] = None  # e.g. an optional import: its later arrival changes the version
            continue
        modules[name] = fingerprint[0]
        for base, names in fingerprint[1]:
            if not _under(base, package_prefix):
                continue
            # `from pkg import x`: x is either a submodule (its code counts) or an
            # attribute defined by pkg/__init__.py (then pkg's code counts).
            needs_base = not names
            for alias in names:
                if alias != "*" and _find_spec_quiet(f"{base}.{alias}") is not None:
                    pending.append(f"{base}.{alias}")
                else:
                    needs_base = True
            if needs_base:
                pending.append(base)
    payload = {"declared": declared_version, "modules": modules}
    return digest_bytes(canonical_json(payload).encode("utf-8"))


def clear_code_version_memo() -> None:
    """Forget memoised code versions (tests; long-lived processes after a code edit)."""
    code_version.cache_clear()
    _module_fingerprint.cache_clear()


@functools.lru_cache(maxsize=None)
def _library_versions(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    found = []
    for name in names:
        try:
            found.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            continue
    return tuple(found)


def library_versions(names: Iterable[str] = ("numpy", "scipy", "soxr", "numba", "soundfile")) -> dict[str, str]:
    """Installed versions of the numerical libraries a stage calls; missing ones are absent."""
    return dict(_library_versions(tuple(names)))


# --------------------------------------------------------------------- the node key


def node_key(kind: str, code_version: str, params: dict, input_digests: list[str], libs: dict) -> str:
    """Cache key of a node: digest of its stage kind, code version, canonical params,
    input artifact digests (in the order given: the caller fixes it) and library versions."""
    record = {
        "kind": kind,
        "code": code_version,
        "params": params,
        "inputs": list(input_digests),
        "libs": libs,
    }
    return digest_bytes(canonical_json(record).encode("utf-8"))
