"""Where a build's tasks run once workers start: -j N starts N - 1 loky workers, and the build process renders
the N-th task itself (it has the engine imported and the kernels loaded, which each worker pays ~1 s for)."""

from __future__ import annotations

import os
from contextlib import ExitStack

import psutil

from mixbuild.pipeline.pools import Pools, release_workers
from mixbuild.stages.ahead import CORES
from testkit.proc import pid_after


def _loky_workers() -> set[int]:
    return {c.pid for c in psutil.Process().children() if "popen_loky" in " ".join(c.cmdline())}


def test_j3_starts_two_workers_and_renders_one_task_here():
    release_workers()  # an earlier test's reusable workers would be resized, not started
    before = _loky_workers()
    with ExitStack() as stack:
        pools = Pools(stack, jobs=3)
        futures = [pools.submit(pid_after, 1.0, backlog=10) for _ in range(3)]  # a cold build's backlog
        idle_core = CORES.claim()  # every core is held: one by the task here, two by the workers' tasks
        if idle_core:
            CORES.release()
        pids = [future.result(timeout=60) for future in futures]
        workers = _loky_workers() - before
        later = pools.submit(pid_after, 0.0, backlog=10).result(timeout=60)  # the slot here is free again
    release_workers()
    assert pids[0] == os.getpid() and os.getpid() not in pids[1:]
    assert len(workers) == 2 and set(pids[1:]) <= workers
    assert not idle_core
    assert later == os.getpid()
