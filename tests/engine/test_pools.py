"""Where a build's tasks run: the build process renders two at a time itself (it has the engine imported and the
kernels loaded, which each worker pays ~1 s for), and -j N starts N - 2 loky workers for the rest."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import psutil

from mixbuild.pipeline.pools import Pools, release_workers
from mixbuild.stages.ahead import CORES
from testkit.proc import pid_after


def _loky_workers() -> set[int]:
    return {c.pid for c in psutil.Process().children() if "popen_loky" in " ".join(c.cmdline())}


def _until(condition, timeout_s: float = 10.0) -> bool:
    """Whether `condition()` holds within `timeout_s` (polled: the tasks take their cores on their own threads)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _idle_cores() -> int:
    """How many cores of the budget a helper could take now (taken, counted, given back)."""
    idle = 0
    while CORES.claim():
        idle += 1
    for _ in range(idle):
        CORES.release()
    return idle


@contextmanager
def _pools(jobs: int) -> Iterator[tuple[Pools, Callable[[], set[int]]]]:
    """Pools for a build at -j `jobs`, and the pids of the loky workers started since; every worker is killed
    before and after (an earlier test's reusable workers would be resized, not started)."""
    release_workers()
    before = _loky_workers()
    try:
        with ExitStack() as stack:
            yield Pools(stack, jobs=jobs), lambda: _loky_workers() - before
    finally:
        release_workers()


def test_j4_starts_two_workers_and_renders_two_tasks_here():
    with _pools(4) as (pools, started):
        futures = [pools.submit(pid_after, 2.0, backlog=10) for _ in range(4)]  # a cold build's backlog
        # every core held while the four run: two by the tasks here, two by the workers' tasks
        all_held = _until(lambda: _idle_cores() == 0)
        pids = [future.result(timeout=60) for future in futures]
        freed = _until(lambda: _idle_cores() == 4)  # each task gives its core back once done
        workers = started()
        later = pools.submit(pid_after, 0.0, backlog=10).result(timeout=60)  # the slots here are free again
    assert pids[:2] == [os.getpid()] * 2 and os.getpid() not in pids[2:]
    assert len(workers) == 2 and set(pids[2:]) <= workers
    assert all_held and freed
    assert later == os.getpid()


def test_j2_renders_every_task_here_and_starts_no_worker():
    with _pools(2) as (pools, started):
        pools.expect(50)  # a cold build's plan
        pids = [f.result(timeout=60) for f in [pools.submit(pid_after, 0.2, backlog=50) for _ in range(4)]]
        time.sleep(0.5)
        workers = started()
    assert pids == [os.getpid()] * 4 and not workers


def test_a_plan_with_more_misses_than_the_threads_take_starts_the_workers_while_it_plans(monkeypatch):
    # A cold build's plan finds dozens of misses: its worker starts then, loading the engine and the compiled
    # code while the plan goes on, not in its first task. A tweak's few misses start none.
    monkeypatch.setattr("mixbuild.stages.dsp.warmup.kernels_marked", lambda: True)
    with _pools(3) as (pools, started):
        pools.expect(2)  # two misses: this process's threads take them
        time.sleep(0.5)
        none_for_a_tweak = not started() and _idle_cores() == 3
        pools.expect(3)
        readying = _idle_cores() == 2  # the worker's start holds a core, as a task would
        one_started = _until(lambda: len(started()) == 1)
        ready = _until(lambda: _idle_cores() == 3, 60.0)  # and gives it back once loaded
    assert none_for_a_tweak and readying and one_started and ready


def test_no_worker_starts_early_before_the_kernels_are_known_compiled(monkeypatch):
    # The first build after an install compiles the kernels in the build process first (`before_render`): a
    # worker started during the plan would compile them again, on its own.
    monkeypatch.setattr("mixbuild.stages.dsp.warmup.kernels_marked", lambda: False)
    with _pools(3) as (pools, started):
        pools.expect(10)
        time.sleep(0.5)
        workers = started()
    assert not workers


def test_killing_the_workers_silences_only_lokys_manager_thread(monkeypatch):
    # A stop kills the workers while a task may sit in loky's queue of work ids; loky's manager thread then dies
    # with a KeyError whose traceback would follow the build's one line. Only that thread is silenced, only
    # while the shutdown runs: any other thread's error still reaches the hook that prints it.
    import threading

    from mixbuild.pipeline import pools

    reported: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: reported.append(args.thread.name))

    def dies(name: str) -> None:
        thread = threading.Thread(target=lambda: {}[1], name=name)
        thread.start()
        thread.join()

    class Workers:  # loky's executor, as far as a shutdown goes
        def shutdown(self, wait: bool, kill_workers: bool) -> None:
            dies(pools.LOKY_MANAGER_THREAD)
            dies("a kernel's helper")

    pools._kill(Workers())
    assert reported == ["a kernel's helper"]
    dies(pools.LOKY_MANAGER_THREAD)  # after the shutdown: reported as ever
    assert reported == ["a kernel's helper", pools.LOKY_MANAGER_THREAD]
