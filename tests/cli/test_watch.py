"""`mixbuild watch`: one rebuild per saved change, only what changed renders, bad edits never stop it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mixbuild.pipeline.specs import load
from mixbuild.pipeline.watch import watch, watched_paths

MIXBUILD = [sys.executable, "-c", "from mixbuild.pipeline.cli import main; main()"]


class Stop(Exception):
    """Ends a watch loop in unit tests (the real one runs until Ctrl-C)."""


def scripted_sleep(actions: dict[int, callable], limit: int):
    """A sleep() that runs actions[n] on its n-th call and stops the loop after `limit` calls."""
    calls = []

    def sleep(_seconds):
        calls.append(1)
        if len(calls) in actions:
            actions[len(calls)]()
        if len(calls) >= limit:
            raise Stop

    return sleep


def touch_text(path: Path, text: str) -> None:
    path.write_text(text)
    stamp = time.time_ns() + 10**9 * (1 + len(text))  # a distinct mtime even on coarse-clock file systems
    os.utime(path, ns=(stamp, stamp))


def test_one_settled_change_is_one_rebuild(project):
    builds = []
    edit = lambda: touch_text(project.path, project.path.read_text() + "\n# a\n")  # noqa: E731
    # saves at sleeps 3 and 4 (an editor writing twice) settle into one build
    sleep = scripted_sleep({3: edit, 4: lambda: touch_text(project.path, project.path.read_text() + "# b\n")}, 20)
    with pytest.raises(Stop):
        watch(project.path, lambda: builds.append(1) or load(project.path), sleep=sleep)
    assert len(builds) == 2


def test_a_save_during_a_build_triggers_the_next(project):
    builds = []

    def build_once():
        builds.append(1)
        if len(builds) == 1:  # the user saves while the first build runs
            touch_text(project.path, project.path.read_text() + "\n# during\n")
        return load(project.path)

    with pytest.raises(Stop):
        watch(project.path, build_once, sleep=scripted_sleep({}, 10))
    assert len(builds) == 2


@pytest.mark.parametrize("keep_mtime", [False, True], ids=["re-bounced", "copied with its mtime (cp -p)"])
def test_a_stem_saved_during_the_first_build_triggers_the_next(project, keep_mtime):
    """The fault campaign's case: the spec was watched from the start, the stems only once the first build
    had loaded it, so a stem saved during that build was taken as seen (one build, still watching)."""
    from testkit.project import write_stem

    builds = []
    stem = project.root / "stems" / "one-lead.wav"
    stamp = stem.stat()

    def build_once():
        builds.append(1)
        if len(builds) == 1:  # the user re-bounces the lead while the first build runs
            write_stem(stem, 523.0, seed=99)
            if keep_mtime:
                os.utime(stem, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # same size, mtime set back
        return load(project.path)

    with pytest.raises(Stop):
        watch(project.path, build_once, sleep=scripted_sleep({}, 10))
    assert len(builds) == 2


def test_stems_stay_watched_while_the_spec_is_invalid(project):
    album = load(project.path)
    stem = Path(album.songs[0].stems["kick"].file)
    assert stem in watched_paths(project.path, album)
    results = iter([album, None, None])  # the spec breaks after the first build
    builds = []

    def build_once():
        builds.append(1)
        return next(results)

    actions = {2: lambda: touch_text(project.path, "songs: [\n"), 8: lambda: touch_text(stem, "not audio")}
    with pytest.raises(Stop):
        watch(project.path, build_once, sleep=scripted_sleep(actions, 16))
    assert len(builds) == 3  # the broken save, then the stem change


def _wait_line(stream, needle: str, timeout_s: float = 120.0) -> str:
    """The next line of `stream` containing needle (read on a thread so that a hang fails, not blocks)."""
    found: list[str] = []

    def read():
        for line in iter(stream.readline, ""):
            if needle in line:
                found.append(line)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    assert found, f"no line with {needle!r} within {timeout_s} s"
    return found[0]


def test_watch_rebuilds_one_tweak_survives_a_bad_save_and_stops_cleanly(project):
    cache, out = project.root / "cache", project.root / "build"
    proc = subprocess.Popen([*MIXBUILD, "watch", str(project.path), "--cache", str(cache), "--out", str(out),
                             "-j", "1", "--interval-s", "0.05"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert "0 cached" in _wait_line(proc.stdout, "] built ")  # cold: every node rendered
        assert "Ctrl-C stops" in _wait_line(proc.stdout, "watching ")  # kernels warm, files fingerprinted
        project.spec["songs"][1]["stems"]["lead"]["gain_db"] = -1.5
        project.save()
        _wait_line(proc.stdout, "] built ")
        rendered = {n["id"] for n in json.loads((out / "build-report.json").read_text())["nodes"]
                    if n["status"] == "rendered"}
        assert "two/stem/lead" in rendered and not any(n.startswith("one/") for n in rendered)

        project.save("title: [unclosed\n")
        problem = _wait_line(proc.stderr, "album.yaml:")
        assert "invalid YAML" in problem  # the one-line spec error, with file and line
        assert "still watching" in _wait_line(proc.stderr, "not built")
        assert proc.poll() is None

        project.save()  # fixed: the same spec as the last good build, so nothing renders
        assert "0 node(s) rendered" in _wait_line(proc.stdout, "] built ")
        proc.send_signal(signal.SIGINT)
        assert "stopped watching" in _wait_line(proc.stdout, "stopped")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_warm_up_loads_the_compiled_kernels():
    # in a fresh process, so that no other test has loaded them first
    code = ("from mixbuild.stages.dsp.warmup import warm_up; warm_up(); from mixbuild.stages.dsp.iir import _sos_filter as f; "
            "from mixbuild.stages.dsp.compressor import _ballistics_and_gain as b; print(len(f.signatures), len(b.signatures))")
    counts = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert int(counts[0]) >= 1 and int(counts[1]) >= 2  # float64 and float32 audio


def test_warm_up_runs_every_compiled_kernel():
    # `mixbuild warm` compiles what warm_up runs: a kernel it misses is compiled in each worker of a build
    code = ("from numba.core.registry import CPUDispatcher; from mixbuild.stages.dsp.warmup import warm_up, _dsp_modules; "
            "warm_up(); print([f'{m.__name__}.{k.__name__}' for m in _dsp_modules() for k in vars(m).values() "
            "if isinstance(k, CPUDispatcher) and k.__module__ == m.__name__ and not k.signatures])")
    missed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert missed == "[]"
