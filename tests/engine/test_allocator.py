"""The build process and its workers keep a block's numpy temporaries on the heap (pipeline/allocator.py):
a loop of block-sized temporaries faults its pages in far less often than under glibc's defaults."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

LOOP = """
import resource, sys
import numpy as np
if sys.argv[1] == "tuned":
    from mixbuild.pipeline.allocator import tune_allocator
    tune_allocator()
block = np.random.default_rng(0).random((1 << 16, 2))  # 1 MiB: a stereo float64 block
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    gained = block * 1.5
    summed = gained + block
    joined = np.concatenate([summed, gained])
    del gained, summed, joined
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    env = {"PATH": "/usr/bin:/bin"}  # no MALLOC_* of the caller's
    return int(subprocess.run([sys.executable, "-c", LOOP, mode], capture_output=True, text=True, check=True,
                              env=env).stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_block_temporaries_stay_on_the_heap():
    plain, tuned = _faults("plain"), _faults("tuned")
    assert tuned * 4 < plain, (plain, tuned)  # here: 11954 -> 1026 minor faults


def test_workers_inherit_the_settings_and_a_users_own_is_kept(monkeypatch):
    from mixbuild.pipeline import allocator

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1048576")
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)  # (restored after the test, as is TOP_PAD)
    monkeypatch.delenv("MALLOC_TOP_PAD_", raising=False)
    allocator.tune_allocator()
    if sys.platform.startswith("linux"):
        assert os.environ["MALLOC_MMAP_THRESHOLD_"] == str(allocator.MMAP_THRESHOLD_BYTES)
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "1048576"
