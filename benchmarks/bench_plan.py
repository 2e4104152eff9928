"""Planning cost against session size (issue 15 item 6): `mixbuild plan` over N new stems, then again.

The first plan of N stems nobody built hashes every file (the file-digest memo is empty) and compiles N stem
nodes; the second finds them in the memo. Linear planning shows as a constant seconds-per-1000-stems down
the table. The stems are tiny (0.05 s, mono, 16-bit): what is measured is the per-stem cost of the checks,
not of reading audio. Every plan is the real CLI in a fresh subprocess, so each time includes interpreter
start and imports (the 0-stem row shows that floor).

    .venv/bin/python benchmarks/bench_plan.py [--stems 1000 3000 10000] [--per-song 100] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's pipeline, stages and testkit

from machine import cpu_model  # noqa: E402
from testkit.proc import CLI, REPO, env  # noqa: E402

RATE = 48000


def write_session(root: Path, stems: int, per_song: int) -> Path:
    """An album of ceil(stems / per_song) songs with `stems` distinct tiny stem files; its spec's path."""
    (root / "stems").mkdir(parents=True)
    rng = np.random.default_rng(0)
    songs = []
    for song in range(0, stems, per_song):
        entries = {}
        for i in range(song, min(song + per_song, stems)):
            path = root / "stems" / f"s{i:05d}.wav"
            soundfile.write(str(path), 0.1 * rng.standard_normal(RATE // 20), RATE, subtype="PCM_16")
            entries[f"t{i:05d}"] = {"file": f"stems/{path.name}", "gain_db": -6.0}
        songs.append({"title": f"Song {song // per_song + 1}", "stems": entries})
    spec = {"title": "Plan Bench", "sample_rate": RATE, "songs": songs,
            "targets": {"streaming": {"preset": "streaming"}}}
    path = root / "album.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def timed_plan(spec: Path, cache: Path, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run(CLI + ["plan", str(spec), "--cache", str(cache), "--out", str(out), "--json"], check=True,
                   stdout=subprocess.DEVNULL, env=env(), cwd=REPO)
    return time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stems", type=int, nargs="+", default=[1000, 3000, 10000])
    ap.add_argument("--per-song", type=int, default=100)
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-plan-"))
    try:
        floor = timed_plan(write_session(work / "one", 1, 1), work / "one" / "cache", work / "one" / "build")
        print(f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}")
        print(f"1 stem: first plan {floor:.2f} s (interpreter start, imports, one song)")
        print(f"{'stems':>6} {'first plan s':>13} {'s/1000 stems':>13} {'second plan s':>14} {'s/1000 stems':>13}")
        for n in args.stems:
            root = work / f"n{n}"
            spec = write_session(root, n, args.per_song)
            first = timed_plan(spec, root / "cache", root / "build")
            second = timed_plan(spec, root / "cache", root / "build")
            print(f"{n:>6} {first:>13.2f} {1000 * (first - floor) / n:>13.3f} {second:>14.2f} "
                  f"{1000 * (second - floor) / n:>13.3f}", flush=True)
            shutil.rmtree(root)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
