"""Album build costs: cold, no-op and one-stem-tweak rebuilds of the demo album, and peak memory
against stem count. Prints medians over runs; nothing is asserted (see tests/ for behaviour).

    .venv/bin/python benchmarks/bench_album.py [--runs 3]
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the checkout's pipeline, stages and testkit

from machine import cpu_model  # noqa: E402

MIXBUILD = [sys.executable, "-c", "from mixbuild.pipeline.cli import main; main()"]


def machine() -> str:
    return f"{os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}"


RSS_PROBE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
             "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def run(args: list[str]) -> tuple[float, float]:
    """(wall seconds of the mixbuild process, start to exit; peak RSS MB of the largest process in its tree)."""
    out = subprocess.run([sys.executable, "-c", RSS_PROBE, *MIXBUILD, *args], check=True, capture_output=True,
                         text=True).stdout.split()
    return float(out[-2]), int(out[-1]) / 1024


def tweak_gain(song: Path, gain_db: float) -> None:
    """Set the demo's kick stem gain in opening.yaml (the one-stem tweak)."""
    text = re.sub(r"gain_db: -?[0-9.]+, output: drums", f"gain_db: {gain_db}, output: drums", song.read_text(),
                  count=1)
    song.write_text(text)


def watch_tweaks(common: list[str], song: Path, gains: list[float | None]) -> list[tuple[float, int]]:
    """(seconds from saving each tweak to `mixbuild watch` reporting the rebuild, polling and settling
    included; nodes rendered). A gain of None saves the song unchanged: a no-op rebuild."""
    proc = subprocess.Popen([*MIXBUILD, "watch", *common[1:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        lines = iter(proc.stdout.readline, "")
        next(line for line in lines if line.startswith("watching "))  # first (no-op) build done, kernels warm
        seconds = []
        for gain in gains:
            saved = time.perf_counter()
            if gain is None:
                song.write_text(song.read_text())
            else:
                tweak_gain(song, gain)
            line = next(line for line in lines if "] built " in line)
            seconds.append((time.perf_counter() - saved, int(re.search(r"(\d+) node\(s\) rendered", line)[1])))
        return seconds
    finally:
        proc.terminate()
        proc.wait()


def album_seconds(spec: Path) -> float:
    from mixbuild.pipeline.specs import load
    total = 0.0
    for song in load(spec).songs:
        total += max(soundfile.info(s.file).duration + s.offset_s for s in song.stems.values())
    return total


def bench_demo(runs: int) -> None:
    from mixbuild.pipeline.demo_stems import write_demo_stems
    write_demo_stems(REPO / "configs" / "demo" / "stems")
    cold, noop, tweak, first_watch, warm_watch, noop_watch, rendered_counts = [], [], [], [], [], [], set()
    for run_index in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "demo"
            shutil.copytree(REPO / "configs" / "demo", work, symlinks=True)
            spec = work / "album.yaml"
            common = ["build", str(spec), "--cache", str(work / "cache"), "--out", str(work / "build"), "-j", "2"]
            cold.append(run(common)[0])
            noop.append(run(common)[0])
            song = work / "songs" / "opening.yaml"
            tweak_gain(song, -2.5)
            tweak.append(run(common)[0])
            # gains whose album loudness decision stays the same: each tweak re-renders one song (11 nodes)
            watched = watch_tweaks(common, song, [-2.7, -3.2, -3.4, -3.3, None, None, None])
            first_watch.append(watched[0][0])
            warm_watch += [seconds for seconds, _ in watched[1:4]]
            rendered_counts.update(count for _, count in watched[:4])
            noop_watch += [seconds for seconds, count in watched[4:] if count == 0]
    music_s = album_seconds(REPO / "configs" / "demo" / "album.yaml")
    c, n, t = statistics.median(cold), statistics.median(noop), statistics.median(tweak)
    print(f"demo album ({music_s:.0f} s of music, 2 targets), median of {runs}, -j 2, wall incl. process start:")
    print(f"  cold build      {c:7.2f} s   {music_s / c:6.1f}x realtime")
    print(f"  no-op rebuild   {n:7.2f} s   {100 * n / c:5.1f} % of cold")
    print(f"  one-stem tweak  {t:7.2f} s   {100 * t / c:5.1f} % of cold")
    f, w = statistics.median(first_watch), statistics.median(warm_watch)
    print(f"mixbuild watch (one process; from saving the spec to the rebuild reported, polling included;"
          f" nodes rendered per tweak: {sorted(rendered_counts)}):")
    print(f"  first tweak     {f:7.2f} s   {100 * f / c:5.1f} % of cold (the first after the watch said it is ready)")
    print(f"  later tweaks    {w:7.2f} s   {100 * w / c:5.1f} % of cold (median of {len(warm_watch)})")
    z = statistics.median(noop_watch)
    print(f"  no-op rebuild   {z:7.2f} s   {100 * z / c:5.1f} % of cold (a save that changes nothing; median of "
          f"{len(noop_watch)})")


def bench_memory(stem_counts: tuple[int, ...], seconds: float) -> None:
    print(f"peak RSS of a cold -j 1 build of one {seconds:.0f} s song (stems with EQ + compressor):")
    rate = 48000
    for count in stem_counts:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            rng = np.random.default_rng(count)
            base = rng.standard_normal((int(seconds * rate), 2)) * 0.05
            stems = {}
            for i in range(count):
                path = root / f"s{i}.wav"
                if i < 8:
                    soundfile.write(str(path), np.roll(base, i * 4800, axis=0), rate, subtype="PCM_24")
                else:
                    os.link(root / f"s{i % 8}.wav", path)  # same bytes, different stem: still one node each
                stems[f"s{i}"] = {"file": str(path), "gain_db": -float(i % 7),
                                  "eq": [{"type": "highpass", "freq_hz": 40}],
                                  "compressor": {"threshold_db": -30, "ratio": 2}, "pan": (i % 9 - 4) / 4}
            spec = root / "song.yaml"
            spec.write_text(yaml.safe_dump({"title": f"{count} stems", "stems": stems}))
            wall, rss = run(["build", str(spec), "--cache", str(root / "cache"), "--out", str(root / "out"), "-j", "1"])
            print(f"  {count:4d} stems   peak RSS {rss:7.0f} MB   wall {wall:6.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--song-seconds", type=float, default=60.0)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        # Python caches compiled modules on first import unless told not to (this sandbox does): compile
        # ours once, as a user's first run would, so that every timed run is not recompiling them.
        for package in ("mixbuild", "pipeline", "stages"):  # compileall does not follow the links
            compileall.compile_dir(REPO / package, quiet=1)
        print("PYTHONDONTWRITEBYTECODE is set: compiled mixbuild/, pipeline/ and stages/ once, as a first run would")
    bench_demo(args.runs)
    bench_memory((8, 32, 128), args.song_seconds)
