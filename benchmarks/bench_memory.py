"""Memory per node: the peak RSS of each node of a long studio album rendered alone in a fresh process,
to see which kernels' memory grows with song length (issue 14: "no process's peak RSS exceeds 1 GB for
songs up to 20 minutes"). Prints the figures; nothing is asserted.

The album is synthesised by testkit.studio (seeded: same flags, same bytes), as in bench_scale, and built
cold once with the real CLI (-j 1). Then every node of its graph is rendered again alone, in a fresh
subprocess that imports pipeline.worker and stages.registry, loads the kinds, calls pipeline.worker.run_task
on the node's task and prints its peak RSS at its end: VmHWM from /proc/self/status, not getrusage's
ru_maxrss, which Linux carries over fork and exec (a child reports at least its parent's resident size at
the fork: this script's, with a song synthesised in it). The task is made here as the executor makes it
(load_code_versions, the cache's file-digest memo, inputs.resolve against the cold build's (output,
digest) per node, worker.task_for), and its key is checked against the build report's. The output is
already stored, so run_task verifies and touches it where a cold build writes it; everything else (inputs
memory-mapped from the cache, the kernel, an album export's scratch file) is what a build's worker does.

    .venv/bin/python benchmarks/bench_memory.py [--songs 1] [--stems 4] [--seconds 600] [--work DIR]

What it prints, one table and a summary:
- per node: its kind, the child's peak RSS, that minus the peak of a bare child (same imports, kinds
  loaded, no task: the interpreter's own), the child's wall time (interpreter start included) and the
  kernel's render seconds;
- per kind: the largest peak, and for it MB above bare and above a second baseline, a child that also
  imports every stages.dsp module (numba, scipy) and runs each once (warmup.warm_up): a kernel's imports
  told from its working memory; that working memory per minute of the audio the node spans (a song's
  length, or the album's for album nodes) and as a multiple of that audio's 48 kHz stereo float32 size.

RSS counts the pages of memory-mapped inputs a kernel has touched (file-backed: page cache that Linux may
reclaim, not memory the process owns); VmHWM is Linux's own high-water mark, so no peak between polls is
missed. The default (1 song x 4 stems x 600 s) takes a few minutes on a shared 2-core
machine; 20-minute songs are --seconds 1200.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from bench_scale import REPO, build, compile_once, in_work_dir, machine, progress  # also puts the checkout on sys.path

from mixbuild.pipeline.api import graph
from mixbuild.pipeline.cache import Cache
from mixbuild.pipeline.codeversion import load_code_versions
from mixbuild.pipeline.inputs import resolve
from mixbuild.pipeline.specs import load
from mixbuild.pipeline.worker import Task, task_for
from mixbuild.stages.registry import load_kinds
from testkit.proc import REPORT, env
from testkit.studio import StudioPlan, write_studio

RATE_HZ = 48_000
FLOAT32_STEREO_BYTES_PER_S = RATE_HZ * 2 * 4
CHILD = """
import json, resource, sys, time
from mixbuild.pipeline.worker import Task, run_task
from mixbuild.stages.registry import load_kinds
kinds = load_kinds()
render_s = None
if sys.argv[1] == "dsp":
    from mixbuild.stages.dsp.warmup import warm_up
    warm_up()
elif sys.argv[1] != "bare":
    with open(sys.argv[1]) as f:
        task = Task(**json.load(f))
    render_s = run_task(sys.argv[2], task)[2]
hwm_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"hwm_kib": hwm_kib, "maxrss_kib": maxrss_kib, "render_s": render_s}))
"""
"""The child: `bare` (imports and kinds only), `dsp` (also every DSP module, run once), or TASK.json CACHE."""


@dataclass(frozen=True)
class Peak:
    """One child process: its peak RSS (VmHWM), its ru_maxrss, its wall time from start to exit, the kernel's
    seconds."""

    rss_mb: float
    maxrss_mb: float
    wall_s: float
    render_s: float | None


def child(*args: str) -> Peak:
    """Run CHILD with `args` in a fresh interpreter from the repository root; its figures."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=REPO, env=env(), capture_output=True, text=True)
    wall_s = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"child {' '.join(args)} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    return Peak(figures["hwm_kib"] / 1024, figures["maxrss_kib"] / 1024, wall_s, figures["render_s"])


def tasks(spec: Path, cache: Cache, report: dict[str, Any]) -> list[Task]:
    """Every node's task, made as pipeline.executor makes it, from the cold build's (output, digest)s."""
    kinds = load_kinds()
    load_code_versions(kinds, Path(cache.root) / "memo")
    memo = cache.file_digest_memo()
    entries = {n["id"]: n for n in report["nodes"]}
    known = {node_id: (n["output"], n["digest"]) for node_id, n in entries.items()}
    made = []
    for node_id, node in graph(load(spec)).items():
        task = task_for(node, kinds[node.kind], resolve(node, memo, known)[0])
        if task.key != entries[node_id]["key"]:
            raise SystemExit(f"{node_id}: key {task.key} is not the build's {entries[node_id]['key']}")
        made.append(task)
    return made


def span_s(node_id: str, songs: int, seconds: float) -> float:
    """Seconds of audio a node covers: one song's for a song's node (id song-NN/...), else the album's."""
    return seconds if node_id.startswith("song-") else songs * seconds


def print_rows(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """A table: the first column left-aligned, the others right-aligned, each as wide as its widest."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))


def kind_rows(made: list[Task], peaks: dict[str, Peak], bare: Peak, dsp: Peak,
              plan: StudioPlan) -> list[tuple[str, ...]]:
    """Per kind, largest peak first: its node count, its largest node, that node's peak, MB above the bare
    and the DSP baselines, and the latter per minute of the audio the node spans and as a multiple of that
    audio's stereo float32 size (negative: the kind imports less than every DSP module)."""
    largest: dict[str, Task] = {}
    for task in made:
        if task.kind not in largest or peaks[task.node_id].rss_mb > peaks[largest[task.kind].node_id].rss_mb:
            largest[task.kind] = task
    rows: list[tuple[str, ...]] = []
    for kind, task in sorted(largest.items(), key=lambda item: -peaks[item[1].node_id].rss_mb):
        peak = peaks[task.node_id]
        working_mb, seconds = peak.rss_mb - dsp.rss_mb, span_s(task.node_id, plan.songs, plan.seconds)
        rows.append((kind, str(sum(t.kind == kind for t in made)), task.node_id, f"{peak.rss_mb:.0f}",
                     f"{peak.rss_mb - bare.rss_mb:.0f}", f"{working_mb:.0f}", f"{working_mb / (seconds / 60):.1f}",
                     f"{working_mb * 2**20 / (seconds * FLOAT32_STEREO_BYTES_PER_S):.1f}x"))
    return rows


def run(args: argparse.Namespace, work: Path) -> None:
    """Synthesise, build cold, measure every node alone, print the tables."""
    started = time.perf_counter()
    compile_once()
    plan = StudioPlan(songs=args.songs, stems=args.stems, seconds=args.seconds)
    progress(f"synthesising {plan.songs} songs x {plan.stems} stems x {plan.seconds:g} s into {work} ...")
    album = write_studio(work / "album", plan, workers=min(plan.songs, os.cpu_count() or 1))
    cache_dir, out = work / "cache", work / "out"
    progress("cold build -j 1 ...")
    cold = build(album.spec, cache_dir, out, 1)
    progress(f"  {cold.wall_s:.1f} s, {cold.rendered} nodes, largest process {cold.largest_rss_mb:.0f} MB")
    made = tasks(album.spec, Cache(cache_dir), json.loads((out / REPORT).read_text()))
    bare, dsp = child("bare"), child("dsp")
    progress(f"bare child {bare.rss_mb:.0f} MB (its ru_maxrss {bare.maxrss_mb:.0f} MB, inherited from this process)")
    peaks: dict[str, Peak] = {}
    for number, task in enumerate(made, 1):
        task_file = work / "task.json"
        task_file.write_text(json.dumps(dataclasses.asdict(task)))
        peaks[task.node_id] = child(str(task_file), str(cache_dir))
        progress(f"  {number}/{len(made)} {task.node_id}: {peaks[task.node_id].rss_mb:.0f} MB")

    print(f"machine: {machine()}")
    print(f"album: {plan.songs} songs x {plan.stems} stems x {plan.seconds:g} s; {len(made)} nodes; cold build "
          f"-j 1 {cold.wall_s:.0f} s, its largest process {cold.largest_rss_mb:.0f} MB (psutil, 50 ms)")
    print(f"bare child (imports, kinds loaded): {bare.rss_mb:.0f} MB; with every stages.dsp module imported and "
          f"run once: {dsp.rss_mb:.0f} MB (+{dsp.rss_mb - bare.rss_mb:.0f}); a song's 48 kHz stereo float32: "
          f"{plan.seconds * FLOAT32_STEREO_BYTES_PER_S / 2**20:.0f} MB")
    print_rows(("node", "kind", "peak MB", "above bare", "wall s", "render s"),
               [(t.node_id, t.kind, f"{p.rss_mb:.0f}", f"{p.rss_mb - bare.rss_mb:.0f}", f"{p.wall_s:.2f}",
                 f"{p.render_s or 0.0:.2f}") for t in made for p in [peaks[t.node_id]]])
    print("per kind, its largest node:")
    print_rows(("kind", "nodes", "largest", "peak MB", "above bare", "above dsp", "MB/min", "x f32 audio"),
               kind_rows(made, peaks, bare, dsp, plan))
    print(f"whole run {time.perf_counter() - started:.0f} s")


def parse_args() -> argparse.Namespace:
    """The flags."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=1)
    parser.add_argument("--stems", type=int, default=4, help="stems per song")
    parser.add_argument("--seconds", type=float, default=600.0, help="length of each song")
    parser.add_argument("--work", type=Path, help="work directory to keep, outside the repository (default: a "
                        "temp dir, removed); keeps stems, specs, the cache and the outputs")
    return parser.parse_args()


if __name__ == "__main__":
    in_work_dir(parse_args(), run, "mixbuild-memory-")
