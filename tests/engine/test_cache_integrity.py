"""Corrupt or missing cache entries are found, re-rendered and reported; racing builds stay valid."""

from __future__ import annotations

import subprocess
import sys

import pytest

from typer.testing import CliRunner

from mixbuild.pipeline.cache import Cache
from mixbuild.pipeline.cli import app


def test_flipped_byte_is_detected_rerendered_and_verified(project):
    cold = project.build()
    cache = Cache(project.root / "cache")
    victim = next(n for n in cold.nodes if n.id == "one/mixdown")
    path = cache.array_path(victim.digest)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    verify = CliRunner().invoke(app, ["cache", "verify", "--cache", str(project.root / "cache")])
    assert verify.exit_code == 1 and victim.digest in verify.output
    assert project.plan()["one/mixdown"].reasons == ["cache entry corrupt"]
    rebuilt = project.build()
    assert "one/mixdown" in rebuilt.rendered
    assert {n.id: n.digest for n in rebuilt.nodes} == {n.id: n.digest for n in cold.nodes}
    clean = CliRunner().invoke(app, ["cache", "verify", "--cache", str(project.root / "cache")])
    assert clean.exit_code == 0, clean.output


def test_deleted_object_is_reported_missing(project):
    cold = project.build()
    cache = Cache(project.root / "cache")
    victim = next(n for n in cold.nodes if n.id == "two/stem/bass")
    cache.array_path(victim.digest).unlink()
    assert project.plan()["two/stem/bass"].reasons == ["cache entry missing"]


def test_two_builds_at_once_both_succeed(project):
    cmd = [sys.executable, "-c", "from mixbuild.pipeline.cli import main; main()", "build", str(project.path),
           "--cache", str(project.root / "cache"), "-j", "1"]
    procs = [subprocess.Popen(cmd + ["--out", str(project.root / f"out{i}")], stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    verify = CliRunner().invoke(app, ["cache", "verify", "--cache", str(project.root / "cache")])
    assert verify.exit_code == 0, verify.output
    a = sorted(p.read_bytes() for p in (project.root / "out0").rglob("*.wav"))
    b = sorted(p.read_bytes() for p in (project.root / "out1").rglob("*.wav"))
    assert a == b and a


@pytest.mark.parametrize("album_cd", [False, True], ids=["track-24bit", "album-tonal-cd-16bit"])
def test_jobs_and_warmth_give_identical_outputs(project, tmp_path, album_cd):
    if album_cd:  # album decisions, tonal picks and the dithered 16-bit CD path with its CUE sheet
        project.spec["master"] |= {"album_loudness": "album", "tonal_match": {"strength": 0.5, "max_db": 2.0}}
        project.spec["targets"]["cd"] = {"preset": "cd"}
        project.save()
    one = project.build(jobs=1)
    digests = {n.id: n.digest for n in one.nodes}
    (project.root / "cache").rename(tmp_path / "cache-j1")
    two = project.build(jobs=2, out="build2")
    assert {n.id: n.digest for n in two.nodes} == digests
    warm = project.build(jobs=2, out="build3")
    assert warm.rendered == set() and {n.id: n.digest for n in warm.nodes} == digests
    (project.root / "cache").rename(tmp_path / "cache-j2")
    three = project.build(jobs=3, out="build4")  # two tasks here, the rest on a loky worker
    assert {n.id: n.digest for n in three.nodes} == digests
    files = lambda d: {p.name: p.read_bytes() for p in (project.root / d).rglob("*") if p.is_file()  # noqa: E731
                       and p.name != "build-report.json"}
    assert files("build") == files("build2") == files("build3") == files("build4")
