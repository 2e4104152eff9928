"""The CLI starts no OpenBLAS thread pool (pipeline/blas.py): its threads would spin on the cores that render."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from testkit.proc import REPO, env

THREADS = """
import sys
if sys.argv[1] == "cli":
    from mixbuild.pipeline import cli  # the CLI's own import: numpy is not loaded yet
    cli.app = lambda: None  # main's set-up only
    cli._leave = lambda code: None
    cli.main()
import os, numpy, scipy.linalg  # each loads its OpenBLAS (the PyPI wheels bundle one each)
print(len(os.listdir("/proc/self/task")))
"""


def _threads_after_numpy(how: str, **given: str) -> int:
    environ = {k: v for k, v in env().items() if not k.endswith("_NUM_THREADS")} | given
    out = subprocess.run([sys.executable, "-c", THREADS, how], env=environ, cwd=REPO, capture_output=True,
                         text=True, check=True)
    return int(out.stdout)


pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/task") or len(os.sched_getaffinity(0)) < 2,
                                reason="counts a process's threads on Linux, where OpenBLAS would start more")


def test_the_cli_leaves_numpy_and_scipy_without_blas_threads() -> None:
    assert _threads_after_numpy("cli") == 1 < _threads_after_numpy("plain")


def test_a_thread_count_the_user_gave_is_kept() -> None:
    assert _threads_after_numpy("cli", OPENBLAS_NUM_THREADS="2") == _threads_after_numpy(
        "plain", OPENBLAS_NUM_THREADS="2") > 1
