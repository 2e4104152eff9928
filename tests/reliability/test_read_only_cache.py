"""A fully cached build works from a read-only cache (issue 15 item 2): it failed writing its lease. Checked on a
tmpfs remounted read-only (root ignores file permissions, a read-only mount it cannot)."""

from __future__ import annotations

import subprocess

from testkit.outdir import deliverables
from testkit.proc import build


def test_a_fully_cached_build_reads_a_read_only_cache(project, tmp_path, tmpfs, monkeypatch):
    mount = tmpfs("256m")
    cache = mount / "cache"
    assert build(project.path, cache, tmp_path / "first", jobs=1).returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True, capture_output=True)
    for jobs in (1, 2):
        if jobs == 2:
            monkeypatch.setenv("MIXBUILD_CACHE_MAX_GB", "0.001")  # over its limit too: nothing can be evicted here
        out = tmp_path / f"ro-{jobs}"
        proc = build(project.path, cache, out, jobs=jobs)
        assert proc.returncode == 0, proc.stderr
        assert deliverables(out) == deliverables(tmp_path / "first")
    project.spec["songs"][0]["stems"]["kick"]["gain_db"] = -5.0  # a miss must be stored: one line, no traceback
    project.save()
    proc = build(project.path, cache, tmp_path / "miss", jobs=1)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].endswith("Read-only file system"), proc.stderr
