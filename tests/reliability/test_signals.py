"""Clean endings (issue 15 item 4): Ctrl-C and SIGTERM (a CI cancel, a timeout, systemd) stop a build within
2 s with one line and exit 130 / 143, its worker processes gone and its lease released; and a lease whose
pid now belongs to another process (pid reuse) no longer counts as a live build."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import psutil
import pytest

from mixbuild.pipeline.cache import Cache
from testkit.proc import REPO, build_cmd, env


def _rendering(project, tmp_path) -> tuple[subprocess.Popen, set[int]]:
    """A `-j 3` build (two tasks here, the rest on a loky worker) that has rendered its first node, and the pids
    of its worker processes."""
    proc = subprocess.Popen(build_cmd(project.path, project.root / "cache", tmp_path / "out", jobs=3), cwd=REPO,
                            env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # without a terminal: one line per finished node
        if "rendered in" in line:
            break
    workers = {child.pid for child in psutil.Process(proc.pid).children(recursive=True)}
    return proc, workers


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signum, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_a_signal_stops_the_build_and_its_workers_at_once(project, tmp_path, signum, code, word):
    proc, workers = _rendering(project, tmp_path)
    assert workers, "a -j 3 build of this album renders on a worker process too"
    sent = time.perf_counter()
    proc.send_signal(signum)
    _, rest = proc.communicate(timeout=30)
    stopped_s = time.perf_counter() - sent
    assert proc.returncode == code
    assert rest.strip().splitlines()[-1] == f"mixbuild: {word}" and "Traceback" not in rest
    assert stopped_s < 2.0, f"stopped {stopped_s:.2f} s after the signal"
    deadline = time.perf_counter() + 2.0
    while not all(_gone(pid) for pid in workers) and time.perf_counter() < deadline:
        time.sleep(0.05)
    assert all(_gone(pid) for pid in workers), "worker processes outlived the build"
    assert not list((project.root / "cache" / "leases").glob("*.json"))  # released
    rebuilt = subprocess.run(build_cmd(project.path, project.root / "cache", tmp_path / "out", jobs=2), cwd=REPO,
                             env=env(), capture_output=True, text=True, timeout=300)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert not [p for p in (project.root / "cache" / "scratch").iterdir()]  # what the killed workers left: swept


def test_a_lease_whose_pid_was_reused_is_stale(tmp_path):
    """pid 1 is alive, but it is not the build that wrote this lease (another start time): prune may run."""
    cache = Cache(tmp_path / "cache")
    with cache.lease() as lease:
        record = json.loads(lease.path.read_text())
        assert record["pid"] == os.getpid() and isinstance(record["process_start"], int)
        assert cache.stats()["live_leases"] == 1
        record.update(pid=1, process_start=record["process_start"] + 12345)
        lease.path.write_text(json.dumps(record))
        assert cache.stats()["live_leases"] == 0
        assert cache.prune(older_than_s=0)["stale_leases_removed"] == 1
