"""Where tasks run: threads in this process, local loky worker processes, or a dask.distributed cluster.

The build process renders up to two tasks at a time on its own threads: kernels release the GIL, and it has
the engine imported and the kernels loaded, which each worker pays ~1 s of a core for. `-j 2` therefore starts
no worker at all (a cold 60-s album from the CLI: 6.60 s, against 6.79 s with one worker and no early start or
parallel reads, medians of 6 alternating), and
`-j N` starts N - 2 loky workers once more misses wait than the two threads take; the plan says so as it finds
the misses (`expect`), so the workers import and load while it goes on. Kernels side by side in this process
share one heap budget (stages/workspace.py), so it stays under 1 GB as a worker does. With a scheduler, every
task goes to the cluster.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

from mixbuild.stages.ahead import CORES

if TYPE_CHECKING:
    from distributed import Client

IN_PROCESS_TASKS = 2
"""Tasks the build process renders at once on its own threads (fewer where -j is 1), workers or not: a tweak's
chain overlaps there, and -j N starts N - 2 workers."""
WORKER_IDLE_S = 300
"""loky workers stay up this long between tasks (loky's default is 10 s), so watch keeps them warm from one
save to the next; they exit with the build process."""
SCHEDULER_TIMEOUT_S = 10.0  # override with $MIXBUILD_SCHEDULER_TIMEOUT
LOKY_MANAGER_THREAD = "ExecutorManagerThread"
"""The name of the thread by which loky feeds its workers and collects their results."""


class SchedulerError(RuntimeError):
    """The dask scheduler could not be reached, or the cluster lost the build."""


@contextmanager
def dask_client(address: str) -> Iterator[Client]:
    """A distributed.Client on `address`; one-line errors if the package is missing or it is unreachable."""
    try:
        from distributed import Client
    except ImportError as err:
        raise SchedulerError(f"--scheduler needs dask.distributed: pip install 'mixbuild[cluster]' ({err})") from None
    timeout = float(os.environ.get("MIXBUILD_SCHEDULER_TIMEOUT", SCHEDULER_TIMEOUT_S))
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as err:
        raise SchedulerError(f"cannot reach dask scheduler {address}: {err}") from None
    # a lost scheduler is our one line (SchedulerError), not the client's reconnect tracebacks
    quiet = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict) if name.startswith("distributed")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL)
    try:
        yield client
    finally:
        try:
            client.close()
        finally:
            for logger, level in zip(quiet, levels):
                logger.setLevel(level)


def cluster_errors() -> tuple[type[BaseException], ...]:
    """Exceptions by which dask.distributed reports a lost worker, scheduler or connection."""
    import asyncio  # here: 0.09 s of imports that a build without a cluster never needs

    try:
        from distributed.comm.core import CommClosedError
        from distributed.scheduler import KilledWorker
    except ImportError:
        return ()
    return KilledWorker, CommClosedError, asyncio.CancelledError, concurrent.futures.CancelledError


_STARTED: set[Executor] = set()
"""The loky executors this process has used (loky hands every build in a watch the same one; a later -j makes
another)."""


def release_workers() -> None:
    """Kill this process's loky workers now: the end of a one-shot command (watch keeps them warm between
    builds instead). Killing idle workers is safe; asking them to exit waits for each interpreter's teardown."""
    while _STARTED:
        _kill(_STARTED.pop())


def _kill(workers: Executor) -> None:
    """Shut loky's `workers` down now, killing them. A task submitted just before (a stop mid-build) may still sit
    in loky's queue of work ids when the kill clears its pending items, and loky's manager thread then trips over
    it (a KeyError in add_call_item_to_queue): its traceback would follow the build's one line, so it is not
    printed. The shutdown waits for that thread, so no other thread's error is silenced."""
    previous = threading.excepthook

    def quiet(args: threading.ExceptHookArgs) -> None:
        if args.thread is None or args.thread.name != LOKY_MANAGER_THREAD:
            previous(args)

    threading.excepthook = quiet
    try:
        workers.shutdown(wait=True, kill_workers=True)  # type: ignore[call-arg]
    finally:
        threading.excepthook = previous


def _holding_a_core(fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)` as a render task on this process's threads: it holds a core of the budget while it runs."""
    with CORES.task():
        return fn(*args)


class Pools:
    """Submit tasks where they run best; `capacity` is how many may run at once."""

    def __init__(self, stack: ExitStack, jobs: int, backend: str = "loky", scheduler: str | None = None):
        self._jobs, self._backend = jobs, backend
        self._threads: ThreadPoolExecutor | None = None
        self._remote: Executor | None = None
        self._workers: Executor | None = None  # ours (loky), unlike a cluster's
        self.capacity = jobs
        self._kernels_known: bool | None = None  # whether the kernels are known compiled: asked once
        self._here: set[Future[Any]] = set()  # tasks submitted to this process's threads
        stack.enter_context(CORES.cores(jobs))  # a kernel on our threads may use a core no task holds
        stack.push(self._close)
        if scheduler:
            client = stack.enter_context(dask_client(scheduler))
            self._remote = client.get_executor(pure=False)
            self.capacity = max(1, sum(client.nthreads().values()))

    def expect(self, backlog: int) -> None:
        """Planning has found `backlog` misses so far. Once that is more than this process's threads take, the
        workers start now (one task starts them all), each running `ready_worker` as it starts while the build
        still plans, instead of in its first task. Measured with one worker beside one task here: a cold 60-s
        album at -j 2 took 6.86 s against 6.96 s. Not before the kernels are known compiled: a first build after
        an install compiles them here first."""
        if self._remote is not None or not self._wants_workers(backlog):
            return
        if self._kernels_known is None:
            from mixbuild.stages.dsp.warmup import kernels_marked

            self._kernels_known = kernels_marked()
        if self._kernels_known:
            # one task only: more than the workers' call queue holds would leave items that loky's manager
            # thread trips over (a KeyError traceback) when a stop kills the workers
            self._on_worker(self._start_workers(), os.getpid)

    def submit(self, fn: Callable[..., Any], *args: Any, backlog: int) -> Future[Any]:
        """Run `fn(*args)` on threads while `backlog` (tasks waiting or running) fits them; once workers run, on
        this process's threads while fewer than IN_PROCESS_TASKS render there, else on a worker."""
        if self._remote is None and self._wants_workers(backlog):
            self._start_workers()
        if self._remote is not None and self._workers is None:  # a cluster's
            return self._remote.submit(fn, *args)
        if self._workers is not None and self._rendering_here() >= IN_PROCESS_TASKS:
            return self._on_worker(self._workers, fn, *args)
        if self._threads is None:
            size = self._jobs if self._backend == "threading" else min(self._jobs, IN_PROCESS_TASKS)
            self._threads = ThreadPoolExecutor(max_workers=size, thread_name_prefix="mixbuild-render")
        future = self._threads.submit(_holding_a_core, fn, *args)
        self._rendering_here()  # drops the finished ones: the set stays as small as the threads
        self._here.add(future)
        return future

    @property
    def _worker_count(self) -> int:
        return self._jobs - IN_PROCESS_TASKS

    def _start_workers(self) -> Executor:
        from joblib.externals.loky import get_reusable_executor

        from .worker import ready_worker

        self._remote = self._workers = get_reusable_executor(max_workers=self._worker_count,
                                                             timeout=WORKER_IDLE_S, initializer=ready_worker)
        _STARTED.add(self._workers)
        return self._workers

    @staticmethod
    def _on_worker(workers: Executor, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Submit to our loky workers; the task holds a core of the budget until it is done, as busy as one on
        our threads, so no helper of the task rendering here takes it."""
        with ExitStack() as held:
            held.enter_context(CORES.task())
            future = workers.submit(fn, *args)  # a broken pool raises: the build fails, the core is given back
            kept = held.pop_all()
        future.add_done_callback(lambda _: kept.close())
        return future

    def _rendering_here(self) -> int:
        """Tasks on this process's threads not yet done (a finished one counts no more, callbacks or not)."""
        self._here = {future for future in self._here if not future.done()}
        return len(self._here)

    def _close(self, error: type[BaseException] | None, *_: object) -> bool:
        """A finished build waits for its threads and keeps its workers warm (watch reuses them); a failed or
        stopped one cancels what has not started and kills its workers now: they hold memory and the output
        pipes, and would otherwise run on for minutes. A task already rendering on this process's threads
        cannot be stopped: the CLI leaves by os._exit; under `watch` it finishes beside the next build (its
        output goes to the cache like any other, and it holds a core of that build's budget until done)."""
        if self._threads is not None:
            self._threads.shutdown(wait=error is None, cancel_futures=error is not None)
        if error is not None and self._workers is not None:
            _kill(self._workers)
        return False

    def _wants_workers(self, backlog: int) -> bool:
        return self._backend == "loky" and self._jobs > IN_PROCESS_TASKS and backlog > IN_PROCESS_TASKS
