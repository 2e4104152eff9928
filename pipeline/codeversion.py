"""Stage code versions: the declared version plus the AST digest of a stage module and the
`stages/` modules it imports, so an edit to a kernel or a DSP helper re-renders exactly its nodes.

Nothing is imported to compute them (planning never pays for numba or scipy). Parsing the ASTs costs
~0.4 s, most of a no-op build, so each kind's version is kept per process and on disk (`memo_paths`: beside
the stages, once per install, else in the cache), valid while no file under stages/ changed.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .atomic import atomic_write_json
from .digest import canonical_json, digest_bytes, digest_file

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

    from mixbuild.stages.registry import StageKind

FRESH_S = 2.0
"""Files modified this recently are not trusted to the disk memo (an edit within one mtime tick)."""

def _strip_docstrings(tree: ast.AST) -> ast.AST:
    """Drop module/class/function docstrings: they never change the audio."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:]
    return tree


def _find_spec(name: str) -> ModuleSpec | None:
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


def _find_spec_quiet(name: str) -> ModuleSpec | None:
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
        return (digest_file(origin), (), is_package)
    source = Path(origin).read_bytes()
    tree = _strip_docstrings(ast.parse(source, filename=origin))
    dump = ast.dump(tree, annotate_fields=True, include_attributes=False)
    return (digest_bytes(dump.encode("utf-8")), _imports(tree, name, is_package), is_package)


STAGES_PACKAGE = "mixbuild.stages"
"""The stage kinds' package: the code a kind's version covers, and the kinds whose versions are memoised on disk
(the code the memo's signature covers)."""


def code_version(module_name: str, declared_version: str, package_prefix: str = STAGES_PACKAGE) -> str:
    """Digest of a stage's declared version and the code it runs.

    Covers the AST (no comments, formatting, line numbers or docstrings) of
    ``module_name`` and, transitively, of every module under ``package_prefix``
    it imports (absolute or relative, top level or inside functions). Parent
    packages' ``__init__`` count only if imported by name (``from pkg import x``
    where ``x`` is not a module), so a registry in ``stages/__init__.py`` does not
    tie every stage to every other. Nothing is imported; results are memoised per
    process per module (``clear_code_version_memo`` resets them). The Python version shapes
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
    _KINDS.clear()
    _module_fingerprint.cache_clear()

_KINDS: dict[str, str] = {}
"""Stage kind name -> code version, for this process."""


def kind_code_version(kind: "StageKind") -> str:
    """The code version of a registered stage kind (memoised per process)."""
    if kind.name not in _KINDS:
        _KINDS[kind.name] = code_version(kind.module, kind.version)
    return _KINDS[kind.name]


MEMO_NAME = f"code-versions.{sys.implementation.cache_tag}.json"
"""The memo's file name: one per interpreter (as a .pyc's), so two Pythons sharing the sources do not take turns
overwriting one memo."""


def _stages_dir() -> Path:
    from mixbuild.stages import registry

    return Path(registry.__file__).parent


def memo_paths(memo_dir: Path) -> list[Path]:
    """Where kinds' code versions are memoised, first found first: beside the stages (in their __pycache__, as
    numba's compiled kernels and their mark are), so a build into a new cache does not parse them again (0.41 s
    of a cold build's start, 39 modules); then `memo_dir` (a cache's), where the stages' folder is read-only."""
    return [_stages_dir() / "__pycache__" / MEMO_NAME, memo_dir / MEMO_NAME]


def load_code_versions(kinds: "dict[str, StageKind]", memo_dir: Path) -> None:
    """Fill the per-process memo with the versions of the kinds under mixbuild.stages from a memo file
    (`memo_paths`), keyed by every stages/ file's (path, size, mtime_ns), this module's, and the Python
    version; recompute and rewrite it when none matches. Kinds registered elsewhere (a test's) are computed
    when first asked for, never memoised on disk."""
    staged = {name: kind for name, kind in kinds.items() if _under(kind.module, STAGES_PACKAGE)}
    files = [*sorted(_stages_dir().rglob("*.py")), Path(__file__)]
    stats = [(str(f), st.st_size, st.st_mtime_ns) for f in files for st in [f.stat()]]
    signature = digest_bytes(canonical_json([sys.version, stats]).encode())
    paths = memo_paths(memo_dir)
    for path in paths:
        try:
            memo = json.loads(path.read_text())
            if memo.get("signature") == signature and set(staged) <= set(memo["versions"]):
                _KINDS.update({name: memo["versions"][name] for name in staged})
                return
        except (OSError, ValueError, AttributeError, TypeError, KeyError):
            pass  # no memo or a garbage one: the next, else compute
    versions = {name: kind_code_version(kind) for name, kind in staged.items()}
    if any(time.time() - mtime / 1e9 <= FRESH_S for _, _, mtime in stats):
        return
    for path in paths:
        try:
            path.parent.mkdir(exist_ok=True)
            atomic_write_json(path, {"signature": signature, "versions": versions}, fsync=False)
            return
        except OSError:  # a read-only install: the cache's memo
            continue
