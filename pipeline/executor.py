"""Walk the DAG in topological order; render cache misses in parallel with joblib.

Tasks exchange cache digests and paths, never pickled arrays, so the same task runs in-process
(`-j 1`, or on threads for a wave no larger than the job count), on local loky workers, or on dask
workers sharing the cache directory.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from stages.registry import Blob, RenderError, StageKind, load_kinds

from .cache import Cache
from .codeversion import kind_code_version, load_code_versions
from .dag import Node
from .inputs import Resolved, digests, resolve, sources
from .key import node_key, preimage

if TYPE_CHECKING:
    from distributed import Client
    from joblib import Parallel


IN_PROCESS_MAX_TASKS = 2
SCHEDULER_TIMEOUT_S = 10.0  # override with $MIXBUILD_SCHEDULER_TIMEOUT


class SchedulerError(RuntimeError):
    """The dask scheduler could not be reached, or the cluster lost the build."""


@contextmanager
def dask_client(address: str) -> Iterator[Client]:
    """A distributed.Client on `address` that joblib's "dask" backend uses; one-line errors if unreachable."""
    try:
        from distributed import Client
    except ImportError as err:
        raise SchedulerError(f"--scheduler needs dask.distributed: pip install 'mixbuild[cluster]' ({err})") from None
    timeout = float(os.environ.get("MIXBUILD_SCHEDULER_TIMEOUT", SCHEDULER_TIMEOUT_S))
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as err:
        raise SchedulerError(f"cannot reach dask scheduler {address}: {err}") from None
    try:
        yield client
    finally:
        client.close()


def _cluster_errors() -> tuple[type[BaseException], ...]:
    """Exceptions by which dask.distributed reports a lost worker, scheduler or connection."""
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker
    return KilledWorker, CommClosedError


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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def execute(nodes: dict[str, Node], cache: Cache, jobs: int = 1,
            on_done: Callable[[NodeResult], None] | None = None, parallel_backend: str = "loky",
            scheduler: str | None = None) -> list[NodeResult]:
    """Resolve every node (cache hit or render); results in topological order.

    With `scheduler` (a dask.distributed address such as tcp://host:8786), every miss runs on that
    cluster through joblib's dask backend; its workers must see the cache directory at the same
    absolute path (a shared filesystem), and `jobs` and `parallel_backend` are ignored.
    """
    kinds = load_kinds()
    load_code_versions(kinds, Path(cache.root) / "memo")
    done: dict[str, NodeResult] = {}
    pending = list(nodes)
    memo = cache.file_digest_memo()
    cache_root = str(Path(cache.root).resolve())  # remote workers resolve it on the shared filesystem
    with ExitStack() as stack:
        stack.enter_context(cache.lease())
        # joblib (~0.3 s to import) and its workers start with the first wave that needs them
        pool: Parallel | None = None

        def parallel() -> Parallel:
            nonlocal pool
            if pool is None:
                from joblib import Parallel, parallel_config
                if scheduler:
                    client = stack.enter_context(dask_client(scheduler))
                    stack.enter_context(parallel_config(backend="dask", client=client))
                    pool = stack.enter_context(Parallel(n_jobs=-1))
                else:
                    pool = stack.enter_context(Parallel(n_jobs=jobs, backend=parallel_backend))
            return pool

        known: dict[str, tuple[str, str]] = {}  # node id -> (output kind, digest), as nodes finish
        while pending:
            tasks = []
            for node_id in pending:
                node = nodes[node_id]
                resolved, unknown = resolve(node, memo, known)
                if unknown:
                    continue
                task = task_for(node, kinds[node.kind], resolved)
                status, record = cache.check_action(task.key)
                if status == "ok" and record is not None:
                    _finish(NodeResult(node_id, node.kind, task.key, "cached", 0.0, record["digest"], record["kind"],
                                       task.inputs), done, on_done)
                    known[node_id] = (record["kind"], record["digest"])
                else:
                    tasks.append(task)
            if tasks:
                calls = [(cache_root, task) for task in tasks]
                # a wave no larger than the job count (the usual shape of a tweak) runs in this process,
                # on threads (kernels release the GIL): starting workers (~1 s of imports each) costs
                # more than the overlap saves. With a scheduler every miss goes to the cluster.
                if not scheduler and len(calls) <= min(jobs, IN_PROCESS_MAX_TASKS):
                    outputs = run_on_threads(calls)
                elif scheduler:
                    from joblib import delayed
                    try:
                        outputs = parallel()(delayed(run_task)(*c) for c in calls)
                    except _cluster_errors() as err:
                        raise SchedulerError(f"dask cluster {scheduler} lost the build: "
                                             f"{type(err).__name__}: {err}") from err
                else:
                    from joblib import delayed
                    outputs = parallel()(delayed(run_task)(*c) for c in calls)
                for task, (digest, output, seconds) in zip(tasks, outputs):
                    _finish(NodeResult(task.node_id, task.kind, task.key, "rendered", seconds, digest, output,
                                       task.inputs), done, on_done)
                    known[task.node_id] = (output, digest)
            remaining = [n for n in pending if n not in done]
            if len(remaining) == len(pending):
                raise RuntimeError(f"DAG cannot progress at {remaining[:3]}")  # compile guarantees acyclic
            pending = remaining
    return [done[n] for n in nodes]


def run_on_threads(calls: list[tuple[str, Task]]) -> list[tuple[str, str, float]]:
    """run_task for each call, one thread each, results in call order (a task's error is raised here)."""
    if len(calls) == 1:
        return [run_task(*calls[0])]
    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="mixbuild-render") as threads:
        return list(threads.map(lambda call: run_task(*call), calls))


def _finish(result: NodeResult, done: dict[str, NodeResult], on_done: Callable[[NodeResult], None] | None) -> None:
    done[result.id] = result
    if on_done is not None:
        on_done(result)


def run_task(cache_root: str, task: Task) -> tuple[str, str, float]:
    """Render one node in any process: load inputs from the cache, run the kernel, store the output."""
    kind = load_kinds()[task.kind]
    cache = Cache(cache_root)
    values = {name: _load_wire(cache, wire) for name, wire in task.inputs.items()}
    started = time.perf_counter()
    node_id = task.node_id
    try:
        out = kind.render(kind.inputs(**values), kind.params.model_validate(task.params))
    except (ValueError, MemoryError) as err:  # a kernel refusing its input is a render failure, not a crash
        raise RenderError(f"{node_id}: {type(err).__name__}: {err}") from None
    seconds = time.perf_counter() - started
    if isinstance(out, np.ndarray):
        if not np.isfinite(out).all():
            raise RenderError(f"{node_id}: kernel produced NaN or Inf samples")
        digest, output = cache.put_array(np.ascontiguousarray(out, dtype=np.float32)), "array"
    else:
        digest, output = cache.put_json(_store_blobs(cache, out)), "json"
    cache.put_action(task.key, {"digest": digest, "kind": output, "stage": task.kind, "node_id": node_id,
                                "seconds": round(seconds, 6), "preimage": task.preimage, "refs": task.refs})
    return digest, output, seconds


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


def _store_blobs(cache: Cache, value: Any) -> Any:
    """Replace every Blob in a kernel's JSON output by a reference to a stored cache object."""
    if isinstance(value, Blob):
        return {"blob": cache.put_blob(value.data, value.suffix), "suffix": value.suffix}
    if isinstance(value, dict):
        return {k: _store_blobs(cache, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_store_blobs(cache, v) for v in value]
    return value


def _resolve_blobs(cache: Cache, value: Any) -> Any:
    """Give kernels paths to stored blobs where their JSON input references them."""
    if isinstance(value, dict):
        if set(value) == {"blob", "suffix"}:
            return cache.blob_path(value["blob"])
        return {k: _resolve_blobs(cache, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_blobs(cache, v) for v in value]
    return value
