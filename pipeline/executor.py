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
from typing import Any, Callable

import numpy as np

from stages.registry import Blob, Context, RenderError, load_kinds

from .cache import Cache
from .dag import SOURCE_PREFIX, Node
from .hashing import FileDigestMemo
from .history import History
from .plan import node_state
from .keys import key_of, kind_code_version, load_code_versions, params_of


IN_PROCESS_MAX_TASKS = 2
SCHEDULER_TIMEOUT_S = 10.0  # override with $MIXBUILD_SCHEDULER_TIMEOUT


class SchedulerError(RuntimeError):
    """The dask scheduler could not be reached, or the cluster lost the build."""


@contextmanager
def dask_client(address: str):
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
    inputs: list[list[str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def input_refs(node: Node, memo: FileDigestMemo, done: dict[str, NodeResult]) -> list[list[str]] | None:
    """[kind, ref, digest] per input in order, or None while an upstream node is unresolved."""
    refs = []
    for source in node.inputs:
        if source.startswith(SOURCE_PREFIX):
            path = source[len(SOURCE_PREFIX):]
            refs.append(["file", path, memo.digest(path)])
        elif source in done:
            refs.append([done[source].output, source, done[source].digest])
        else:
            return None
    return refs


def execute(nodes: dict[str, Node], cache: Cache, jobs: int = 1, history: History | None = None,
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
        pool = None  # joblib (~0.3 s to import) and its workers start with the first wave that needs them

        def parallel():
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

        while pending:
            tasks = []
            for node_id in pending:
                node = nodes[node_id]
                refs = input_refs(node, memo, done)
                if refs is None:
                    continue
                key = key_of(node, kinds[node.kind], [r[2] for r in refs])
                status, record = cache.check_action(key)
                if status == "ok":
                    _finish(node, NodeResult(node_id, node.kind, key, "cached", 0.0, record["digest"], record["kind"],
                                             refs), done, history, on_done)
                else:
                    tasks.append((node, key, refs))
            if tasks:
                calls = [(cache_root, node.kind, params_of(node), refs, key, node.id) for node, key, refs in tasks]
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
                for (node, key, refs), (digest, output, seconds) in zip(tasks, outputs):
                    _finish(node, NodeResult(node.id, node.kind, key, "rendered", seconds, digest, output, refs),
                            done, history, on_done)
            remaining = [n for n in pending if n not in done]
            if len(remaining) == len(pending):
                raise RuntimeError(f"DAG cannot progress at {remaining[:3]}")  # compile guarantees acyclic
            pending = remaining
    return [done[n] for n in nodes]


def run_on_threads(calls: list[tuple]) -> list[tuple[str, str, float]]:
    """run_task for each call, one thread each, results in call order (a task's error is raised here)."""
    if len(calls) == 1:
        return [run_task(*calls[0])]
    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="mixbuild-render") as threads:
        return list(threads.map(lambda call: run_task(*call), calls))


def _finish(node: Node, result: NodeResult, done, history: History | None, on_done) -> None:
    done[result.id] = result
    if history is not None:
        code = kind_code_version(load_kinds()[node.kind])
        history.record(node.id, node_state(node, code, [(ref, digest) for _, ref, digest in result.inputs]))
    if on_done is not None:
        on_done(result)


def run_task(cache_root: str, kind_name: str, params: dict, refs: list[list[str]], key: str,
             node_id: str) -> tuple[str, str, float]:
    """Render one node in any process: load inputs from the cache, run the kernel, store the output."""
    kind = load_kinds()[kind_name]
    cache = Cache(cache_root)
    values = [_load_input(cache, output, ref, digest) for output, ref, digest in refs]
    started = time.perf_counter()
    try:
        out = kind.render(values, kind.params.model_validate(params), Context(node_id, key))
    except (ValueError, MemoryError) as err:  # a kernel refusing its input is a render failure, not a crash
        raise RenderError(f"{node_id}: {type(err).__name__}: {err}") from None
    seconds = time.perf_counter() - started
    if isinstance(out, np.ndarray):
        if not np.isfinite(out).all():
            raise RenderError(f"{node_id}: kernel produced NaN or Inf samples")
        digest, output = cache.put_array(np.ascontiguousarray(out, dtype=np.float32)), "array"
    else:
        digest, output = cache.put_json(_store_blobs(cache, out)), "json"
    cache.put_action(key, {"digest": digest, "kind": output, "stage": kind_name, "node_id": node_id,
                           "seconds": round(seconds, 6), "params": params})
    return digest, output, seconds


def _load_input(cache: Cache, output: str, ref: str, digest: str):
    if output == "file":
        return Path(ref)
    if output == "array":
        return cache.load_array(digest)
    return _resolve_blobs(cache, cache.load_json(digest))


def _store_blobs(cache: Cache, value):
    """Replace every Blob in a kernel's JSON output by a reference to a stored cache object."""
    if isinstance(value, Blob):
        return {"blob": cache.put_blob(value.data, value.suffix), "suffix": value.suffix}
    if isinstance(value, dict):
        return {k: _store_blobs(cache, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_store_blobs(cache, v) for v in value]
    return value


def _resolve_blobs(cache: Cache, value):
    """Give kernels paths to stored blobs where their JSON input references them."""
    if isinstance(value, dict):
        if set(value) == {"blob", "suffix"}:
            return cache.blob_path(value["blob"])
        return {k: _resolve_blobs(cache, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_blobs(cache, v) for v in value]
    return value
