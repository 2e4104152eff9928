"""Resolve every node of the DAG: a cache hit, or a task rendered as soon as its inputs exist.

Node-level scheduling: a node is resolved the moment its last input is (a hit finishes at once and may
release more nodes), and ready misses start, longest remaining path first, whenever a slot is free, so no
worker idles while a ready node waits, and the album exports of different targets run side by side. A path's
length is in seconds where the last build measured its nodes (ninja's critical path from its log), else in nodes.
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from mixbuild.stages.registry import load_kinds

from .cache import Cache
from .codeversion import load_code_versions
from .dag import Node
from .inputs import resolve, source_files
from .plan import seconds_or_none
from .pools import Pools, SchedulerError, cluster_errors
from .worker import Task, run_task, task_for

__all__ = ["NodeResult", "SchedulerError", "execute"]


@dataclass
class NodeResult:
    """One build-report record."""

    id: str
    stage: str
    key: str
    status: str  # "cached" | "rendered"
    seconds: float
    digest: str
    output: str  # "array" | "json"
    inputs: dict[str, Any] = field(default_factory=dict)
    """Input name -> [output, source, digest], or a list of those for a list input."""
    notes: list[str] = field(default_factory=list)
    """What the kernel remarked on when it rendered (a stem's DC offset), repeated by every hit."""
    render_seconds: float | None = None
    """What rendering its output took: this build's `seconds`, or a hit's as its action record keeps it (None where
    that record has none); the next build's estimate of the node's cost."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Graph:
    """The scheduler's view of the DAG: each node's dependencies among the nodes, its dependents, and its
    longest remaining path (bench_scale replays it on more cores than this machine has)."""

    def __init__(self, nodes: dict[str, Node], estimates_s: Callable[[], dict[str, float]] = dict):
        self.nodes = nodes
        self.waiting = {n: {u for u in node.upstream() if u in nodes} for n, node in nodes.items()}
        self.dependents: dict[str, list[str]] = {n: [] for n in nodes}
        for node_id, ups in self.waiting.items():
            for up in sorted(ups):
                self.dependents[up].append(node_id)
        self.order = {n: i for i, n in enumerate(nodes)}
        self.first_sink: dict[str, int] = {}
        for node_id in reversed(list(nodes)):  # dependents come later in topological order
            self.first_sink[node_id] = min((self.first_sink[d] for d in self.dependents[node_id]),
                                           default=self.order[node_id])
        self._estimates_s = estimates_s
        self._priority: dict[str, float] | None = None

    def priority(self, node_id: str) -> float:
        """The longest path from `node_id` to an output, in estimated seconds (`node_costs`); worked out when
        the first miss is queued, so that a build of hits only reads no estimates."""
        if self._priority is None:
            self._priority = self._longest_paths_s(node_costs(self.nodes, self._estimates_s()))
        return self._priority[node_id]

    def _longest_paths_s(self, cost_s: dict[str, float]) -> dict[str, float]:
        """Each node's cost plus the longest of its dependents' paths (dependents come later in topological order)."""
        paths_s: dict[str, float] = {}
        for node_id in reversed(list(self.nodes)):
            paths_s[node_id] = cost_s[node_id] + max((paths_s[d] for d in self.dependents[node_id]), default=0.0)
        return paths_s

    def rank(self, node_id: str) -> tuple[int, float, int]:
        """Queue order: nodes feeding the earliest final output (a target's album export) first, so that one
        target completes, and delivers while the others render, rather than all at the very end; among those,
        the longest remaining path first; then topological order."""
        return self.first_sink[node_id], -self.priority(node_id), self.order[node_id]

    def release(self, node_id: str) -> list[str]:
        """Mark `node_id` resolved; the dependents it was the last missing input of."""
        ready = []
        for dependent in self.dependents[node_id]:
            self.waiting[dependent].discard(node_id)
            if not self.waiting[dependent]:
                ready.append(dependent)
        return ready


def node_costs(nodes: dict[str, Node], estimates_s: dict[str, float]) -> dict[str, float]:
    """Each node's expected render seconds: the last build's measure of it (`NodeResult.render_seconds`), else
    the mean of its kind's measured ones (a new stem costs what stems cost), else of all; with nothing measured
    (a first build), 1 for every node, and the longest path counts nodes."""
    known = {n: s for n, s in estimates_s.items() if n in nodes}
    if not known:
        return dict.fromkeys(nodes, 1.0)
    by_kind: dict[str, list[float]] = defaultdict(list)
    for node_id, seconds in known.items():
        by_kind[nodes[node_id].kind].append(seconds)
    kind_mean = {kind: _mean(values) for kind, values in by_kind.items()}
    overall = _mean(list(known.values()))
    return {node_id: known.get(node_id, kind_mean.get(node.kind, overall)) for node_id, node in nodes.items()}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def execute(nodes: dict[str, Node], cache: Cache, jobs: int = 1,
            on_done: Callable[[NodeResult], None] | None = None,
            on_start: Callable[[str], None] | None = None, parallel_backend: str = "loky",
            scheduler: str | None = None, before_render: Callable[[], None] | None = None,
            force: frozenset[str] = frozenset(),
            estimates_s: Callable[[], dict[str, float]] = dict) -> list[NodeResult]:
    """Resolve every node (cache hit or render); results in topological order. `before_render` is called once,
    before the first miss starts (never in a build of hits only); the nodes in `force` render even if cached
    (their records are replaced; a bit-identical output leaves the nodes after them cached). `estimates_s`
    gives node id -> seconds its last render took (`node_costs`), asked once, when the first miss is queued.

    `parallel_backend` "loky" runs large backlogs on worker processes, "threading" keeps every task on
    `jobs` threads. With `scheduler` (a dask.distributed address such as tcp://host:8786), every miss runs on
    that cluster, whose workers must see the cache directory at the same absolute path.
    """
    kinds = load_kinds()
    load_code_versions(kinds, Path(cache.root) / "memo")
    graph = Graph(nodes, estimates_s)
    memo = cache.file_digest_memo()
    memo.digest_all(source_files(nodes.values()), jobs)  # a cold plan's sources read on every core
    cache.recall_verified()  # hits an earlier build verified are not read again while their files are untouched
    cache_root = str(Path(cache.root).resolve())  # remote workers resolve it on the shared filesystem
    done: dict[str, NodeResult] = {}
    known: dict[str, tuple[str, str]] = {}  # node id -> (output kind, digest)
    queue: list[tuple[int, float, int, Task]] = []  # (*Graph.rank, task)

    def finish(result: NodeResult) -> list[str]:
        done[result.id], known[result.id] = result, (result.output, result.digest)
        if on_done is not None:
            on_done(result)
        return graph.release(result.id)

    def resolve_ready(released: list[str]) -> None:
        """Hits finish at once (releasing their dependents in turn); misses join the queue."""
        ready = deque(released)
        while ready:
            node_id = ready.popleft()
            node = nodes[node_id]
            task = task_for(node, kinds[node.kind], resolve(node, memo, known)[0])
            status, record = ("forced", None) if node_id in force else cache.check_action(task.key)
            if status == "ok" and record is not None:
                ready += finish(NodeResult(node_id, node.kind, task.key, "cached", 0.0, record["digest"],
                                           record["kind"], task.inputs, _notes(record), _seconds(record)))
            else:
                heapq.heappush(queue, (*graph.rank(node_id), task))
                pools.expect(len(queue) + len(running))  # workers a large backlog needs start while planning goes on

    with ExitStack() as stack:
        stack.enter_context(cache.lease())
        pools = Pools(stack, jobs, parallel_backend, scheduler)
        running: dict[Future[Any], Task] = {}
        resolve_ready([n for n, ups in graph.waiting.items() if not ups])
        memo.flush()  # every source is hashed by now (stems wait on nothing): one write for all of them
        while queue or running:
            while queue and len(running) < pools.capacity:
                if before_render is not None:
                    before_render()
                    before_render = None
                task = heapq.heappop(queue)[-1]
                running[pools.submit(run_task, cache_root, task, backlog=len(queue) + len(running) + 1)] = task
                if on_start is not None:
                    on_start(task.node_id)
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: graph.order[running[f].node_id]):
                task = running.pop(future)
                digest, output, seconds, notes = _result(future, scheduler)
                cache.written_by_worker(digest, output)
                resolve_ready(finish(NodeResult(task.node_id, task.kind, task.key, "rendered", seconds, digest,
                                                output, task.inputs, notes, seconds)))
    memo.flush()  # a source first hashed later (none today: only stems read files) is kept too
    if len(done) != len(nodes):
        stuck = [n for n in nodes if n not in done][:3]
        raise RuntimeError(f"DAG cannot progress at {stuck}")  # compile guarantees acyclic
    return [done[n] for n in nodes]


def _result(future: Future[Any], scheduler: str | None) -> tuple[str, str, float, list[str]]:
    """A task's (digest, output kind, seconds, notes); a lost cluster is a one-line SchedulerError."""
    try:
        digest, output, seconds, notes = future.result()
    except cluster_errors() as err:
        detail = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        raise SchedulerError(f"dask cluster {scheduler} lost the build ({detail})") from err
    return str(digest), str(output), float(seconds), [str(n) for n in notes]


def _notes(record: dict[str, Any]) -> list[str]:
    """An action record's notes (records written before notes existed have none)."""
    notes = record.get("notes", [])
    return [n for n in notes if isinstance(n, str)] if isinstance(notes, list) else []


def _seconds(record: dict[str, Any]) -> float | None:
    """The render seconds an action record keeps (None where it keeps none, or not a time)."""
    return seconds_or_none(record.get("seconds"))
