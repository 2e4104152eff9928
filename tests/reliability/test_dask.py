"""Scale-out on dask.distributed: `build(scheduler=...)` / `mixbuild build --scheduler`.

A LocalCluster on 127.0.0.1 (two worker processes, one thread each) stands in for a real cluster;
the workers share the cache directory because they share this machine's filesystem.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mixbuild.pipeline import api
from mixbuild.pipeline.cache import Cache
from testkit.cli import message_lines
from testkit.outdir import deliverables

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.timeout(120)


def start_cluster():
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                    dashboard_address="127.0.0.1:0", silence_logs=50)


@pytest.fixture(scope="module")
def cluster():
    with start_cluster() as cluster:
        yield cluster


def dask_build(project, cache: str, out: str, scheduler: str) -> api.Report:
    return api.build(project.path, cache_dir=project.root / cache, out_dir=project.root / out, scheduler=scheduler)


def test_dask_build_is_bit_identical_to_local(project, cluster):
    local = project.build(jobs=1, out="local")
    with distributed.Client(cluster.scheduler_address) as client, distributed.get_task_stream(client) as stream:
        remote = dask_build(project, "cache-dask", "remote", cluster.scheduler_address)
    assert remote.rendered == {n.id for n in remote.nodes}  # a fresh cache: everything rendered...
    assert stream.data, "...and on the cluster, not in-process"
    assert {n.id: n.digest for n in remote.nodes} == {n.id: n.digest for n in local.nodes}
    files = deliverables(project.root / "local")
    assert files and deliverables(project.root / "remote") == files
    assert Cache(project.root / "cache-dask").verify() == []

    again = dask_build(project, "cache-dask", "again", cluster.scheduler_address)
    assert again.rendered == set()
    assert deliverables(project.root / "again") == files


def test_killed_worker_does_not_corrupt_the_cache(project):
    reference = project.build(jobs=1, out="local")
    with start_cluster() as cluster, distributed.Client(cluster.scheduler_address) as client:
        outcome: dict = {}

        def run():
            try:
                outcome["report"] = dask_build(project, "cache-dask", "remote", cluster.scheduler_address)
            except Exception as err:  # noqa: BLE001 - recorded and checked below
                outcome["error"] = err

        thread = threading.Thread(target=run)
        thread.start()
        pids = client.run(os.getpid)
        deadline = time.monotonic() + 30
        busy: list[str] = []
        while not busy and thread.is_alive() and time.monotonic() < deadline:
            busy = [addr for addr, keys in client.processing().items() if keys]
            time.sleep(0.02)
        assert busy, "no task ever reached a worker"
        os.kill(pids[busy[0]], signal.SIGKILL)  # mid-task: the nanny restarts it, the scheduler reschedules
        thread.join(90)
        assert not thread.is_alive()

    if "error" in outcome:  # allowed, if it says what happened in one line
        assert isinstance(outcome["error"], api.SchedulerError) and "\n" not in str(outcome["error"])
    else:
        assert {n.id: n.digest for n in outcome["report"].nodes} == {n.id: n.digest for n in reference.nodes}
        assert deliverables(project.root / "remote") == deliverables(project.root / "local")
    assert Cache(project.root / "cache-dask").verify() == []
    # whatever the cluster left behind, a local build on that cache finishes it, bit-identically
    resumed = api.build(project.path, cache_dir=project.root / "cache-dask", out_dir=project.root / "resumed", jobs=1)
    assert {n.id: n.digest for n in resumed.nodes} == {n.id: n.digest for n in reference.nodes}
    assert deliverables(project.root / "resumed") == deliverables(project.root / "local")


@pytest.mark.parametrize("how", ["flag", "env"])
def test_unreachable_scheduler_is_one_line_exit_1(project, how):
    address = "tcp://127.0.0.1:1"  # nothing listens on port 1
    env = {**os.environ, "MIXBUILD_SCHEDULER_TIMEOUT": "1"}
    args = [str(Path(sys.executable).parent / "mixbuild"), "build", str(project.path),
            "--cache", str(project.root / "cache"), "--out", str(project.root / "build")]
    if how == "flag":
        args += ["--scheduler", address]
    else:
        env["MIXBUILD_SCHEDULER"] = address
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    lines = message_lines(result.stderr)
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("build failed: cannot reach dask scheduler tcp://127.0.0.1:1")
    assert not (project.root / "build" / "build-report.json").exists()


_SCHEDULER = ("from distributed import LocalCluster; import time\n"
              "cluster = LocalCluster(n_workers=1, threads_per_worker=1, host='127.0.0.1', dashboard_address=None,"
              " silence_logs=50)\n"
              "print(cluster.scheduler_address, flush=True)\ntime.sleep(600)")


def test_a_scheduler_lost_mid_build_is_one_line_exit_1(project):
    """A lost scheduler printed the client's 37-line reconnect traceback, then `internal error: CancelledError`."""
    cluster = subprocess.Popen([sys.executable, "-c", _SCHEDULER], stdout=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        address = cluster.stdout.readline().strip()
        args = [str(Path(sys.executable).parent / "mixbuild"), "build", str(project.path), "--cache",
                str(project.root / "cache"), "--out", str(project.root / "build"), "--scheduler", address]
        build = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        first = build.stderr.readline()  # the first node rendered on the cluster: the build is under way
        os.killpg(cluster.pid, signal.SIGKILL)
        rest = build.stderr.read()
        build.wait(timeout=90)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(cluster.pid, signal.SIGKILL)
    assert first.startswith("[1/")
    assert build.returncode == 1 and "Traceback" not in rest, rest
    lines = message_lines(rest)
    assert len(lines) == 1 and lines[0].startswith(f"build failed: dask cluster {address} lost the build ("), rest
