"""No silent first-run cost (issue 16 item 9): the first build after an install spent ~18 s compiling numba
kernels without a word. Now it says so and compiles once before its workers start; `mixbuild warm` does it
ahead, and a build on a warm cache says nothing. NUMBA_CACHE_DIR points numba at an empty cache."""

from __future__ import annotations

import subprocess

import pytest

from testkit.proc import CLI, REPO, env

pytestmark = pytest.mark.slow  # two real compiles: ~40 s on 2 cores


def _run(args, cache_dir):
    return subprocess.run(CLI + args, capture_output=True, text=True, cwd=REPO,
                          env=dict(env(), NUMBA_CACHE_DIR=str(cache_dir)), timeout=600)


def test_the_first_build_says_it_compiles_and_warm_does_it_ahead(project, tmp_path):
    first = _run(["build", str(project.path), "--cache", str(project.root / "cache"), "--out", str(tmp_path / "a"),
                  "-j", "2"], tmp_path / "numba-a")
    assert first.returncode == 0, first.stderr
    lines = first.stderr.splitlines()
    assert lines[0].startswith("compiling mixbuild's DSP kernels, once for this install")
    assert lines[1].startswith("compiled in ")
    again = _run(["build", str(project.path), "--cache", str(tmp_path / "cache-b"), "--out", str(tmp_path / "b")],
                 tmp_path / "numba-a")
    assert again.returncode == 0 and "compil" not in again.stderr  # renders everything again, compiles nothing

    ahead = _run(["warm"], tmp_path / "numba-c")
    assert ahead.returncode == 0 and ahead.stdout.startswith("compiled the DSP kernels in ")
    assert _run(["warm"], tmp_path / "numba-c").stdout.strip() == "the DSP kernels are compiled already"
    compiled = set((tmp_path / "numba-c").rglob("*.nbc"))  # one file per kernel and argument types
    built = _run(["build", str(project.path), "--cache", str(tmp_path / "cache-c"), "--out", str(tmp_path / "c"),
                  "-j", "2"], tmp_path / "numba-c")
    assert built.returncode == 0, built.stderr
    assert set((tmp_path / "numba-c").rglob("*.nbc")) == compiled  # warm compiled every variant a build runs
