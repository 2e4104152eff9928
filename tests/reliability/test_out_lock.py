"""One build delivers into an out folder at a time (issue 15 item 3): two builds of two versions into one
`--out` both exited 0 and, interleaved, left a mixed folder. The second now waits for the first, says for
whom, and the folder ends as one complete delivery."""

from __future__ import annotations

import fcntl
import os
import subprocess
import time

import pytest

from mixbuild.pipeline.outlock import LOCK_NAME
from testkit.outdir import deliverables
from testkit.proc import REPO, build, build_cmd, env


@pytest.mark.timeout(300)
def test_a_build_waits_for_the_one_delivering_into_its_folder(project, tmp_path):
    out = tmp_path / "out"
    warm = build(project.path, project.root / "cache", out, jobs=1)  # everything cached: the next build only delivers
    assert warm.returncode == 0, warm.stderr
    expected = deliverables(out)
    fd = os.open(out / LOCK_NAME, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another build is delivering
    os.pwrite(fd, b"the build of pid 4242 on studio", 0)
    try:
        proc = subprocess.Popen(build_cmd(project.path, project.root / "cache", out, jobs=1), cwd=REPO, env=env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        assert proc.poll() is None  # waiting, not delivering over the other build's files
    finally:
        os.close(fd)  # the other build is done
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert f"waiting for the build of pid 4242 on studio, which is delivering into {out}" in stderr
    assert deliverables(out) == expected
