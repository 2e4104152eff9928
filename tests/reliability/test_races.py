"""Concurrent builds on one cache: the same album three times, and two albums sharing stems."""

from __future__ import annotations

import pytest

from testkit.outdir import deliverables
from testkit.proc import build, build_cmd, race, verify
from testkit.project import second_album


# not slow (15-28 s on 2 cores): the default run's one check of concurrent builds
def test_three_builds_of_one_album_on_one_cache(project, tmp_path):
    serial = build(project.path, tmp_path / "serial-cache", tmp_path / "serial-out", jobs=1)
    assert serial.returncode == 0, serial.stderr
    cache = tmp_path / "shared-cache"
    outs = [tmp_path / f"out{i}" for i in range(3)]
    results = race([build_cmd(project.path, cache, out, jobs=1) for out in outs])
    for result in results:
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    expected = deliverables(tmp_path / "serial-out")
    assert expected
    for out in outs:
        assert deliverables(out) == expected
    code, bad = verify(cache)
    assert code == 0 and bad == []


@pytest.mark.slow
def test_two_albums_sharing_stems_on_one_cache(project, tmp_path):
    other = second_album(project)
    for name, spec in (("a", project.path), ("b", other)):
        serial = build(spec, tmp_path / f"serial-cache-{name}", tmp_path / f"serial-{name}", jobs=1)
        assert serial.returncode == 0, serial.stderr
    cache = tmp_path / "shared-cache"
    results = race([build_cmd(project.path, cache, tmp_path / "out-a", jobs=1),
                    build_cmd(other, cache, tmp_path / "out-b", jobs=1)])
    for result in results:
        assert result.returncode == 0, result.stderr
    for name in ("a", "b"):
        assert deliverables(tmp_path / f"out-{name}") == deliverables(tmp_path / f"serial-{name}")
    assert deliverables(tmp_path / "out-a") != deliverables(tmp_path / "out-b")  # really two albums
    code, bad = verify(cache)
    assert code == 0 and bad == []
