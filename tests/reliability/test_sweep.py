"""A build sweeps the temporaries of killed processes (issue 15 item 4): kill -9 left `/dev/shm` semaphores and
`/tmp/mixbuild-*` files behind for good. Only entries whose creator's pid is dead are removed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mixbuild.pipeline.sweep import SHM, sweep_dead_temporaries
from testkit.proc import build, env


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_only_a_dead_processes_temporaries_are_removed(tmp_path):
    dead, live = _dead_pid(), subprocess.os.getpid()
    for pid in (dead, live):
        (tmp_path / f"sem.loky-{pid}-abcd1234").write_bytes(b"\0" * 32)
        (tmp_path / f"mixbuild-{pid}-x1y2.npy").write_bytes(b"npy")
        folder = tmp_path / f"joblib_memmapping_folder_{pid}_0f_1e"
        folder.mkdir()
        (folder / "a.pkl").write_bytes(b"p")
    (tmp_path / "sem.mp-other").write_bytes(b"x")  # not ours to judge
    (tmp_path / f"mixbuild-notes-{dead}.txt").write_bytes(b"x")  # not our naming
    assert sweep_dead_temporaries((tmp_path,)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"sem.loky-{live}-abcd1234", f"mixbuild-{live}-x1y2.npy", f"joblib_memmapping_folder_{live}_0f_1e",
         "sem.mp-other", f"mixbuild-notes-{dead}.txt"])


_KILLED = textwrap.dedent("""
    import os, signal
    from joblib.externals.loky import get_reusable_executor
    from mixbuild.stages.registry import scratch_file
    scratch_file(".npy")  # a kernel's scratch outside a build's cache
    get_reusable_executor(max_workers=2).submit(abs, -1).result()
    print(os.getpid(), flush=True)
    os.killpg(0, signal.SIGKILL)  # the process, its workers and loky's resource tracker, as a CI cancel does
""")


@pytest.mark.skipif(not SHM.is_dir(), reason="no /dev/shm here")
def test_the_next_build_sweeps_what_a_killed_group_left(project, tmp_path):
    proc = subprocess.run([sys.executable, "-c", _KILLED], capture_output=True, text=True, env=env(),
                          start_new_session=True, timeout=120)
    pid = int(proc.stdout.split()[0])
    tmp = Path(subprocess.os.environ.get("TMPDIR", "/tmp"))
    left = [p for folder in (SHM, tmp) for p in folder.glob(f"*{pid}[-_]*")]
    assert any(p.name.startswith("sem.loky-") for p in left) and any(p.name.startswith("mixbuild-") for p in left)
    assert build(project.path, project.root / "cache", tmp_path / "out", jobs=1).returncode == 0
    assert [p for p in left if p.exists()] == []
