"""A full disk (or a file-size limit) fails the build with one clear line, leaves the cache
sound, and the next build after space is freed succeeds."""

from __future__ import annotations

import pytest

from testkit.cli import message_lines
from testkit.diskfull import build_with_fsize_limit, remount
from testkit.outdir import deliverables, temp_files
from testkit.proc import build, verify


def _assert_clean_failure(proc, where):
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert "Traceback" not in err, err
    lines = message_lines(err)
    assert len(lines) == 1, err
    assert lines[0].startswith("build failed: ") and str(where) in lines[0], err
    assert "No space left on device" in lines[0] or "File too large" in lines[0], err


# "cache" is not slow (14-35 s on 2 cores): the default run's one check of a full disk (where mount is allowed)
@pytest.mark.parametrize("full", ["cache", pytest.param("out", marks=pytest.mark.slow)])
def test_enospc_on_tmpfs(project, tmp_path, tmpfs, full):
    mnt = tmpfs("4m")  # where mount is not permitted, the RLIMIT_FSIZE test still runs
    ref = build(project.path, tmp_path / "ref-cache", tmp_path / "ref-out", jobs=1)
    assert ref.returncode == 0, ref.stderr
    if full == "cache":  # a 4 MB cache cannot hold the album's ~19 MB of objects
        cache, out = mnt / "cache", tmp_path / "out"
    else:  # the cache fits elsewhere; the 3.4 MB of deliverables do not fit in 2 MB
        remount(mnt, "2m")
        cache, out = tmp_path / "cache", mnt / "out"
    proc = build(project.path, cache, out, jobs=2)
    _assert_clean_failure(proc, mnt)
    code, bad = verify(cache)
    assert code == 0 and bad == []
    assert not out.exists() or temp_files(out) == []
    remount(mnt, "256m")  # space freed
    again = build(project.path, cache, out, jobs=2)
    assert again.returncode == 0, again.stderr
    assert deliverables(out) == deliverables(tmp_path / "ref-out")
    code, bad = verify(cache)
    assert code == 0 and bad == []


@pytest.mark.slow
def test_efbig_from_rlimit_fsize(project, tmp_path):
    """Where mount is not allowed: RLIMIT_FSIZE (SIGXFSZ ignored) makes big writes fail with EFBIG."""
    ref = build(project.path, tmp_path / "ref-cache", tmp_path / "ref-out", jobs=1)
    assert ref.returncode == 0, ref.stderr
    cache, out = tmp_path / "cache", tmp_path / "out"
    proc = build_with_fsize_limit(project.path, cache, out, limit_bytes=200_000, jobs=1)
    _assert_clean_failure(proc, cache)
    code, bad = verify(cache)
    assert code == 0 and bad == []
    again = build(project.path, cache, out, jobs=2)
    assert again.returncode == 0, again.stderr
    assert deliverables(out) == deliverables(tmp_path / "ref-out")
