"""The Python API the CLI uses: load a spec, plan it, explain a node, build it."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .atomic import atomic_write_json
from .cache import LIMIT_ENV_VAR, Cache, CacheLimitError, max_bytes, resolve_cache_dir
from .dag import Node, compile_album
from .deliver import Delivery, DeliveryError
from .edit import set_value
from .executor import NodeResult, SchedulerError, execute
from .project import default_cache, default_out
from .plan import PlanEntry, explain, last_build_keys, last_render_seconds, make_plan
from .specs import Album, Problem, SpecError, load
from .specs.load import validate_album

if TYPE_CHECKING:
    import numpy as np
from .sweep import sweep_dead_temporaries

__all__ = ["DeliveryError", "Report", "SchedulerError", "build", "explain_node", "graph", "load", "plan", "set_value",
           "validate_album"]


@dataclass
class Report:
    """What a build did: one record per node, and the delivered files."""

    spec: str
    nodes: list[NodeResult]
    outputs: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    cache_root: str = ""
    rates_hz: dict[str, int] = field(default_factory=dict)
    """Each audio node's output rate (a final's is its target's)."""

    def audio(self, node_id: str) -> tuple[np.ndarray, int]:
        """A node's audio read back from the cache: (frames, channels) float32 and its rate in Hz. Mapped from
        the file, not copied: np.array() it to keep it past a prune."""
        node = next((n for n in self.nodes if n.id == node_id), None)
        if node is None:
            raise KeyError(f"{node_id!r}: no such node in this build (report.nodes lists them)")
        if node.output != "array":
            raise ValueError(f"{node_id}: its output is {node.output}, not audio (an export's file is in "
                             "report.outputs)")
        return Cache(self.cache_root).load_array(node.digest), self.rates_hz[node_id]

    @property
    def rendered(self) -> set[str]:
        return {n.id for n in self.nodes if n.status == "rendered"}

    @property
    def warnings(self) -> list[str]:
        """Each node's notes as `node: note` lines (a stem's DC offset), rendered or cached alike."""
        return [f"{n.id}: {text}" for n in self.nodes for text in n.notes]

    def as_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "seconds": round(self.seconds, 3),
                "rendered": len(self.rendered), "cached": len(self.nodes) - len(self.rendered),
                "warnings": self.warnings, "nodes": [n.as_dict() for n in self.nodes], "outputs": self.outputs}


def graph(album: Album, targets: list[str] | None = None) -> dict[str, Node]:
    """The compiled DAG: node id -> Node, in topological order. A target the album does not have is a
    SpecError (a typo must not build nothing and exit 0)."""
    unknown = [name for name in targets or [] if name not in album.targets]
    if unknown:
        known = ", ".join(sorted(album.targets))
        raise SpecError([Problem(Path("command line"), None, "--target", f"{name!r} is not a target of this album "
                                 f"(its targets: {known})") for name in unknown])
    return compile_album(album, targets)


def _spec_cache(spec_path: str | Path, cache_dir: str | Path | None) -> Cache:
    """The cache a build of `spec_path` uses: `cache_dir`, else $MIXBUILD_CACHE, else its project's cache/."""
    return Cache(resolve_cache_dir(cache_dir, default_cache(spec_path)))


def _spec_out(spec_path: str | Path, out_dir: str | Path | None) -> Path:
    """Where a build of `spec_path` delivers: `out_dir`, else its project's build/."""
    return Path(out_dir) if out_dir is not None else default_out(spec_path)


def plan(spec_path: str | Path, cache_dir: str | Path | None = None, targets: list[str] | None = None,
         out_dir: str | Path | None = None) -> list[PlanEntry]:
    """Which nodes would render, and why (against the last build delivered into `out_dir`), without rendering."""
    return make_plan(graph(load(spec_path), targets), _spec_cache(spec_path, cache_dir),
                     last_build_keys(_spec_out(spec_path, out_dir)))


def explain_node(spec_path: str | Path, node_id: str, cache_dir: str | Path | None = None,
                 targets: list[str] | None = None, out_dir: str | Path | None = None) -> dict[str, Any]:
    """A node's preimage stored by its last build (into `out_dir`), its preimage now, and what differs.
    Raises KeyError when the spec has no such node."""
    cache = _spec_cache(spec_path, cache_dir)
    plan_entries = make_plan(graph(load(spec_path), targets), cache, last_build_keys(_spec_out(spec_path, out_dir)))
    return explain({e.id: e for e in plan_entries}[node_id], cache)


def _rate_hz(node: Node) -> int:
    """The rate of a node's audio output: a final's target rate, else the rate it renders at."""
    rate: Any = getattr(node.params, "target_rate_hz", None) or getattr(node.params, "sample_rate_hz", 0)
    return int(rate)


def _both(first: Callable[[NodeResult], None],
          second: Callable[[NodeResult], None] | None) -> Callable[[NodeResult], None]:
    """One on_done callback calling `first`, then `second` if given."""
    def both(result: NodeResult) -> None:
        first(result)
        if second is not None:
            second(result)
    return both


def _forced(nodes: dict[str, Node], force: list[str]) -> frozenset[str]:
    """The node ids to render again: `force` checked against the album's (`*`: all of them)."""
    if "*" in force:
        return frozenset(nodes)
    unknown = [node_id for node_id in force if node_id not in nodes]
    if unknown:
        raise SpecError([Problem(Path("command line"), None, "NODE", f"{node_id!r} is not a node of this album "
                                 "(`mixbuild graph SPEC --format json` lists them)") for node_id in unknown])
    return frozenset(force)


def _check_out_dir(out: Path) -> None:
    """A delivery folder is the album's own: never a file system's root or the user's home, whose other
    files a delivery (which replaces its targets' folders) must not sit among."""
    where = out.expanduser().resolve()
    home = Path.home().resolve()
    if where == Path(where.anchor) or os.path.ismount(where) or where == home:
        what = "the home folder" if where == home else "a file system's root"
        raise SpecError([Problem(Path("command line"), None, "--out",
                                 f"{where} is {what}; deliver into a folder of its own (e.g. {where / 'build'})")])


def build(spec_path: str | Path, cache_dir: str | Path | None = None, out_dir: str | Path | None = None,
          jobs: int | None = None, targets: list[str] | None = None,
          on_done: Callable[[NodeResult], None] | None = None, on_plan: Callable[[int], None] | None = None,
          on_start: Callable[[str], None] | None = None,
          backend: str = "loky", scheduler: str | None = None, album: Album | None = None,
          on_wait: Callable[[str], None] | None = None,
          before_render: Callable[[], None] | None = None, force: list[str] | None = None) -> Report:
    """Render what is stale, deliver the album exports into `out_dir`, write the build report there. Without
    `out_dir` / `cache_dir` (and $MIXBUILD_CACHE), the spec's project's `build/` and `cache/` (`project.py`).

    `scheduler` (a dask.distributed address, e.g. tcp://host:8786) renders every miss on that cluster;
    its workers must share the cache directory at the same absolute path. Raises SchedulerError
    (one-line message) when the scheduler cannot be reached. `album` is the spec already loaded from
    `spec_path` (watch mode loads it to know which files to watch); None loads it here. Each target is
    delivered as soon as its album export is resolved, while the rest renders (`deliver.Delivery`), holding
    `out_dir`'s lock (`outlock.py`) from then on: a second build into the same folder waits for it, telling
    `on_wait` whom it waits for, so two builds never mix their files there. `before_render` runs once before the first miss
    renders (the CLI compiles the kernels there when numba's cache lacks them). `force` names nodes to render
    again even when cached (`["*"]`: every node); an id the album does not have is a SpecError.

    Afterwards a cache over MIXBUILD_CACHE_MAX_GB is cut down to 80 % of it (pipeline.cache.limit), least
    recently used first, never below what this build holds: its lease spans the whole build and the prune, and
    the report's digests are kept by name. A bad MIXBUILD_CACHE_MAX_GB is a SpecError before anything renders.
    """
    started = time.perf_counter()
    out = _spec_out(spec_path, out_dir)
    _check_out_dir(out)
    sweep_dead_temporaries()  # what a killed build left in /dev/shm and the temp folder
    album = load(spec_path) if album is None else validate_album(album)  # one changed in Python is checked too
    nodes = graph(album, targets)
    forced = _forced(nodes, force or [])
    if on_plan is not None:
        on_plan(len(nodes))
    try:
        limit_bytes = max_bytes()
    except CacheLimitError as err:
        raise SpecError([Problem(Path("environment"), None, LIMIT_ENV_VAR, err.detail)]) from err
    cache = _spec_cache(spec_path, cache_dir)
    prune = not targets or set(album.targets) <= set(targets)  # every target built: drop folders of removed ones
    with cache.lease():  # held until the limit is enforced: nothing this build used is evicted
        with Delivery(cache, out, str(Path(spec_path).resolve()), prune, on_wait) as delivery:
            results = execute(nodes, cache, jobs=jobs or os.cpu_count() or 1, on_done=_both(delivery.on_done, on_done),
                              on_start=on_start, parallel_backend=backend, scheduler=scheduler,
                              before_render=before_render, force=forced,
                              estimates_s=lambda: last_render_seconds(out))
            report = Report(str(spec_path), results, delivery.finish(results))
            report.seconds = time.perf_counter() - started
            report.cache_root = str(cache.root)
            report.rates_hz = {node_id: _rate_hz(node) for node_id, node in nodes.items()}
            atomic_write_json(out / "build-report.json", report.as_dict())
        cache.enforce_limit(limit_bytes, keep={n.digest for n in results})
        cache.remember_verified()  # after the limit: evicted objects drop out
    return report

