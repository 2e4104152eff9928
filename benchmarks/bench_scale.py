"""Scale: what a realistic studio album costs to build cold, at each job count, and to rebuild after
the tweaks a mix engineer makes all day (issue 14). Prints the figures; nothing is asserted.

The album is synthesised by testkit.studio (seeded: same flags, same bytes): songs x stems x seconds of
48 kHz / 24-bit WAV with the silences of a real session (a vocal resting in the intro and the solo, toms
playing a few fills, late entries by offset_s and by leading zeros), drum and vocal buses, reverb and
delay returns, the master chain, and a streaming and a CD target. Every build is the real CLI in a fresh
subprocess, as a user runs it, so each wall time includes interpreter start and imports; except the warm
rebuilds, which run one after another in one long-lived process, as `watch` runs them.

    .venv/bin/python benchmarks/bench_scale.py [--songs 4] [--stems 16] [--seconds 30] [--jobs 1 2]
        [--repeat 3] [--rebuilds noop stem master tags warm served] [--scale-stems 4] [--scale-seconds 30]
        [--no-scale] [--cold-only] [--side-by-side] [--work DIR]

What it prints, one table:
- cold build at each -j (a fresh cache each): wall, speedup against -j 1, wall x jobs / sum of the
  nodes' render seconds (1.0 = every job busy rendering the whole time; above 1, the excess is idle
  jobs, scheduling, process start and delivery), peak RSS of the largest process in the build's tree
  (the CLI and its loky workers, sampled with psutil every 50 ms) and of the whole tree;
- the DAG model: the -j 1 build's node seconds scheduled on 2-16 workers, its critical path, and the most
  any -j can gain once the build's own start and end are added (timed from the CLI's line for each node);
  with --side-by-side, also two cold -j 1 builds at once against one alone, and -j 2 estimated with that
  slowdown;
- no-op rebuild, one-stem tweak, album-master tweak, tag-only change: median wall of --repeat runs (and
  their range), the nodes each rendered, the sum of their seconds and the slowest three; and the one-stem
  tweak in one long-lived process, as `watch` builds (its first build, which pays the start, untimed); and
  the one-stem tweak from the command line with `mixbuild serve` running, taking turns with a fresh process;
- tweak cost against album size: the same one-stem tweak in a 2-song and an 8-song album (same songs,
  --scale-stems x --scale-seconds each), and their ratio (1.0 = a tweak costs what it touches only);
- cache bytes / source bytes after a cold build.

The default size (4 songs x 16 stems x 30 s, 2/8 songs x 4 stems x 30 s) runs in about 5 minutes on a
shared 2-core machine; a real album is larger: raise --seconds and --songs for the figures that matter.
Of the cold builds' caches only the last is kept (for the rebuilds): their objects are the same bytes.
"""

from __future__ import annotations

import argparse
import compileall
import heapq
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the checkout's pipeline, stages and testkit

from machine import cpu_model, memory_pass_slowdown  # noqa: E402
from mixbuild.pipeline.cache.layout import disk_bytes  # noqa: E402
from mixbuild.pipeline.dag import Node  # noqa: E402
from mixbuild.pipeline.executor import Graph, node_costs  # noqa: E402
from testkit.proc import REPORT, env  # noqa: E402
from testkit.studio import Album, StudioPlan, write_album, write_studio, write_yaml  # noqa: E402

CLI = (sys.executable, "-m", "mixbuild.pipeline.cli")
"""The CLI itself, never looking for a server."""
LAUNCHER = (sys.executable, "-m", "mixbuild")
"""The console script's entry: a server's fork where `mixbuild serve` serves, else the CLI in this process."""
SAMPLE_EVERY_S = 0.05
FIRST_NODES = 5
"""The first nodes a build started that it keeps (`Build.first_nodes`)."""
RENDERED_LINE = re.compile(r"^\[\d+/\d+\] (\S+) rendered in ([0-9.]+) s")
"""The CLI's line for a rendered node where stderr is not a terminal: its id and seconds."""
TWEAKED_STEM = "lead_vocal"
"""The stem the one-stem tweak changes (the first stem when the album has none of that name)."""


# ------------------------------------------------------------------------------------- measuring

class TreeRss:
    """Peak resident memory of a process and all its descendants, polled with psutil in a thread.

    Loky workers are the build's children and the benchmark's grandchildren: polling the whole tree
    sees them, where getrusage(RUSAGE_CHILDREN) counts only the children a process has waited for."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.largest_bytes = 0  # the largest single process at any sample
        self.tree_bytes = 0  # the whole tree at one sample
        self.seen: dict[int, psutil.Process] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_EVERY_S)

    def sample(self) -> None:
        """One look at every process in the tree now."""
        try:
            processes = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        for process in processes:
            try:
                rss = process.memory_info().rss
            except psutil.Error:
                continue
            self.seen.setdefault(process.pid, process)
            self.largest_bytes = max(self.largest_bytes, rss)
            total += rss
        self.tree_bytes = max(self.tree_bytes, total)

    def wait_for_descendants(self, timeout_s: float = 30.0) -> None:
        """Wait until every descendant seen has exited, so that none competes with the next build."""
        others = [p for pid, p in self.seen.items() if pid != self.root.pid]
        psutil.wait_procs(others, timeout=timeout_s)


@dataclass(frozen=True)
class Build:
    """One `mixbuild build` run: its wall time, what it rendered and what that cost."""

    jobs: int
    wall_s: float
    rendered: int
    cached: int
    node_seconds: float  # sum of the rendered nodes' seconds, from build-report.json
    slowest: tuple[tuple[str, float], ...]  # the rendered nodes that took longest: (id, seconds)
    largest_rss_mb: float
    tree_rss_mb: float
    seconds_by_node: dict[str, float]  # each rendered node's seconds
    head_s: float | None = None  # from the process's start to its first node's (interpreter, imports, plan)
    tail_s: float | None = None  # from its last node's end to its exit (delivery, report, exit)
    first_nodes: tuple[str, ...] = ()  # the nodes that started first, in order (`first_node_excess`)


def build(spec: Path, cache: Path, out: Path, jobs: int, cli: tuple[str, ...] = CLI,
          environment: dict[str, str] | None = None) -> Build:
    """`mixbuild build SPEC --cache --out -j`, in a fresh subprocess from the repository root; the wall
    time is from start to exit; the report is the one the build wrote into `out`."""
    command = [*cli, "build", str(spec), "--cache", str(cache), "--out", str(out), "-j", str(jobs), "--json"]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=REPO, env=environment or env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    lines, spans = [], []  # each rendered node's (start, end, id), seconds from the process's start
    with TreeRss(proc.pid) as rss:
        for line in proc.stderr:  # the CLI's stderr is line-buffered: each line as the node ends
            lines.append(line)
            if match := RENDERED_LINE.match(line):
                ended_s = time.perf_counter() - started
                spans.append((ended_s - float(match[2]), ended_s, match[1]))
        proc.wait()
        wall_s = time.perf_counter() - started
    rss.wait_for_descendants()
    if proc.returncode != 0:
        raise SystemExit(f"build failed (exit {proc.returncode}): {' '.join(command)}\n{''.join(lines)[-3000:]}")
    spans.sort()
    if not spans:
        return reported(out, jobs, wall_s, rss)
    return reported(out, jobs, wall_s, rss, head_s=spans[0][0], tail_s=wall_s - max(end for _, end, _ in spans),
                    first_nodes=tuple(node for _, _, node in spans[:FIRST_NODES]))


def reported(out: Path, jobs: int, wall_s: float, rss: TreeRss, head_s: float | None = None,
             tail_s: float | None = None, first_nodes: tuple[str, ...] = ()) -> Build:
    """The build whose report is in `out`, timed at `wall_s`, its memory as `rss` saw it so far; `head_s`,
    `tail_s`, `first_nodes`: see Build."""
    report = json.loads((out / REPORT).read_text())
    rendered = sorted(((n["seconds"], n["id"]) for n in report["nodes"] if n["status"] == "rendered"), reverse=True)
    return Build(jobs=jobs, wall_s=wall_s, rendered=report["rendered"], cached=report["cached"],
                 node_seconds=sum(seconds for seconds, _ in rendered),
                 slowest=tuple((node, seconds) for seconds, node in rendered[:3]),
                 largest_rss_mb=rss.largest_bytes / 2**20,
                 tree_rss_mb=rss.tree_bytes / 2**20,
                 seconds_by_node={node: seconds for seconds, node in rendered}, head_s=head_s, tail_s=tail_s,
                 first_nodes=first_nodes)


WARM_PROCESS = """
from mixbuild.pipeline.process import tune_process
tune_process()  # as the CLI (and so watch) sets its process up, before numpy loads
import json, sys, time
from mixbuild.pipeline import api, pools
spec, cache, out, jobs = sys.argv[1:5]
for _ in sys.stdin:
    started = time.perf_counter()
    api.build(spec, cache_dir=cache, out_dir=out, jobs=int(jobs))
    print(json.dumps(time.perf_counter() - started), flush=True)
pools.release_workers()
"""
"""A long-lived build process, as `watch` is: one build for each line on its stdin, its wall time on stdout."""


def warm_builds(spec: Path, cache: Path, out: Path, jobs: int, edits: Iterable[object]) -> list[Build]:
    """One build after each edit, all in one process (as `watch` builds: imports, numba's kernels and the
    workers stay warm); the first, which pays the process's start as a fresh CLI does, is not returned. The
    wall time is the build's own, from `api.build`'s call to its return (not watch's polling)."""
    proc = subprocess.Popen([sys.executable, "-c", WARM_PROCESS, str(spec), str(cache), str(out), str(jobs)],
                            cwd=REPO, env=env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    builds: list[Build] = []
    with TreeRss(proc.pid) as rss:
        for _ in edits:
            proc.stdin.write("build\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            if not line:
                raise SystemExit(f"the warm build process failed: {proc.stderr.read()[-3000:]}")
            builds.append(reported(out, jobs, float(json.loads(line)), rss))
        proc.stdin.close()
        proc.wait()
    rss.wait_for_descendants()
    return builds[1:]


def tree_bytes(root: Path, under: str = "") -> int:
    """Disk bytes (allocated blocks, as `du` counts: holes are free) of the regular files under root/under."""
    return sum(disk_bytes(p.stat()) for p in (root / under).rglob("*") if p.is_file())


def progress(message: str) -> None:
    """A line on stderr while the run goes on (the table goes to stdout at the end)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------- the edits

def edit_yaml(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Load a spec, apply `change` to it, write it back (the benchmark wrote it: plain YAML)."""
    data = yaml.safe_load(path.read_text())
    change(data)
    write_yaml(path, data)


def tweaked_stem(song_spec: Path) -> str:
    stems = yaml.safe_load(song_spec.read_text())["stems"]
    return TWEAKED_STEM if TWEAKED_STEM in stems else next(iter(stems))


def stem_gain_edits(song_spec: Path, count: int) -> Iterator[str]:
    """Change one stem's gain_db in one song, by -0.2 dB each time (every edit a real change)."""
    stem = tweaked_stem(song_spec)
    for _ in range(count):
        def lower(data: dict[str, Any]) -> None:
            data["stems"][stem]["gain_db"] = round(data["stems"][stem].get("gain_db", 0.0) - 0.2, 3)
        edit_yaml(song_spec, lower)
        yield f"{song_spec.stem}/{stem} gain_db"


def master_threshold_edits(album_spec: Path, count: int) -> Iterator[str]:
    """Change the album master's compressor threshold, by -0.5 dB each time."""
    for _ in range(count):
        def lower(data: dict[str, Any]) -> None:
            data["master"]["compressor"]["threshold_db"] = data["master"]["compressor"]["threshold_db"] - 0.5
        edit_yaml(album_spec, lower)
        yield "master.compressor.threshold_db"


def tag_edits(album_spec: Path, count: int) -> Iterator[str]:
    """Change the streaming target's comment tag only: no audio changes, only what writes tags."""
    for take in range(count):
        def retag(data: dict[str, Any]) -> None:
            data["targets"]["streaming"]["tags"] = {"comment": f"scale benchmark, take {take + 1}"}
        edit_yaml(album_spec, retag)
        yield "targets.streaming.tags.comment"


# ------------------------------------------------------------------------------------- the runs

def cold_builds(album: Album, work: Path, jobs_list: list[int], rounds: int,
                served_env: dict[str, str] | None = None) -> tuple[list[list[Build]], Path, Path]:
    """`rounds` cold builds at each job count, each into a fresh cache, the job counts taking turns (each
    round in the other order, so a drift of the machine's speed falls on all alike); returns the builds per
    job count and the cache and out dir of the last -j's last build (kept for the rebuilds). With
    `served_env`, each is a `mixbuild` command of that environment (a server's fork)."""
    builds: dict[int, list[Build]] = {jobs: [] for jobs in jobs_list}
    for round_ in range(rounds):
        for jobs in (jobs_list if round_ % 2 == 0 else jobs_list[::-1]):
            cache, out = work / f"cache-j{jobs}", work / f"out-j{jobs}"
            shutil.rmtree(cache, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)  # no report either: each a first build, its queue by node count
            progress(f"cold build -j {jobs} ({round_ + 1} of {rounds}) ...")
            via = (CLI, None) if served_env is None else (LAUNCHER, served_env)
            builds[jobs].append(build(album.spec, cache, out, jobs, *via))
            progress(f"  {builds[jobs][-1].wall_s:.1f} s, {builds[jobs][-1].rendered} nodes")
            if jobs != jobs_list[-1]:
                shutil.rmtree(cache, ignore_errors=True)  # its objects are the last -j's
    last = jobs_list[-1]
    return [builds[jobs] for jobs in jobs_list], work / f"cache-j{last}", work / f"out-j{last}"


def rebuild_after_each(spec: Path, cache: Path, out: Path, jobs: int, edits: Iterable[object]) -> list[Build]:
    """One build after each item of `edits`: a generator of edits (it changes a spec before it yields),
    or a range for rebuilds after no change (no-op rebuilds)."""
    return [build(spec, cache, out, jobs) for _ in edits]


def median_wall_s(builds: list[Build]) -> float:
    return statistics.median(b.wall_s for b in builds)


def walls(builds: list[Build]) -> str:
    """Median and the range of wall times, e.g. '2.31 s (2.20-2.45)'."""
    values = [b.wall_s for b in builds]
    return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"


def nodes(builds: list[Build]) -> str:
    """Nodes rendered (one number, or each count seen across repeats) and the median sum of their seconds."""
    counts = sorted({b.rendered for b in builds})
    node_s = statistics.median(b.node_seconds for b in builds)
    return f"{'/'.join(map(str, counts))} of {builds[0].rendered + builds[0].cached} rendered, node s {node_s:.1f}"


def rebuild_rows(label: str, builds: list[Build]) -> list[tuple[str, str]]:
    """A rebuild's row (median wall, range, nodes) and, when it rendered anything, where the time went:
    the slowest nodes of its median run."""
    rows = [(label, f"{walls(builds)}, {nodes(builds)}")]
    median_run = sorted(builds, key=lambda b: b.wall_s)[len(builds) // 2]
    if median_run.slowest:
        rows.append(("  slowest nodes", ", ".join(f"{node} {seconds:.1f} s" for node, seconds in median_run.slowest)))
    return rows


def scale_comparison(work: Path, args: argparse.Namespace, jobs: int) -> list[tuple[str, str]]:
    """The same one-stem tweak in a 2-song and an 8-song album of identical songs: does a tweak
    cost what it touches, or grow with the album?"""
    plan = StudioPlan(songs=8, stems=args.scale_stems, seconds=args.scale_seconds)
    root = work / "scale"
    progress(f"synthesising the 8-song album ({plan.stems} stems x {plan.seconds:g} s) ...")
    eight = write_studio(root, plan, workers=os.cpu_count() or 1)
    two_spec = write_album(root, plan, eight.song_specs[:2], "album-2.yaml")
    rows, medians = [], {}
    for label, spec in (("2 songs", two_spec), ("8 songs", eight.spec)):
        cache, out = root / f"cache-{label[0]}", root / f"out-{label[0]}"
        progress(f"{label}: cold build -j {jobs} ...")
        cold = build(spec, cache, out, jobs)
        progress(f"{label}: one-stem tweaks ...")
        tweaks = rebuild_after_each(spec, cache, out, jobs, stem_gain_edits(eight.song_specs[0], args.repeat))
        medians[label] = median_wall_s(tweaks)
        rows += [(f"{label}: cold build (-j {jobs})", f"{cold.wall_s:.1f} s, {cold.rendered} nodes"),
                 *rebuild_rows(f"{label}: one-stem tweak", tweaks)]
        if not args.work:
            shutil.rmtree(cache, ignore_errors=True)
    rows.append(("tweak 8 songs / 2 songs", f"{medians['8 songs'] / medians['2 songs']:.2f}x"))
    return rows


MODEL_WORKERS = (2, 4, 8, 16)
"""Core counts the DAG model schedules the -j 1 build's nodes on (this machine has 2: 16 is the issue's)."""


def makespan_s(nodes: dict[str, Node], seconds: dict[str, float], workers: int,
               estimates_s: Callable[[], dict[str, float]] = dict) -> float:
    """When the last node ends if `workers` run the executor's queue (`Graph` with `estimates_s`: by node count
    without, as a first build), each node taking its `seconds`: nodes ending at the same moment release their
    dependents together, in topological order, before the free workers take the queue's next, as the executor
    does."""
    graph = Graph(nodes, estimates_s)
    queue = [(*graph.rank(n), n) for n, ups in graph.waiting.items() if not ups]
    heapq.heapify(queue)
    running: list[tuple[float, int, str]] = []
    now_s = 0.0
    while queue or running:
        while queue and len(running) < workers:
            node_id = heapq.heappop(queue)[-1]
            heapq.heappush(running, (now_s + seconds[node_id], graph.order[node_id], node_id))
        now_s = running[0][0]
        while running and running[0][0] == now_s:  # every node ending now, in topological order
            for dependent in graph.release(heapq.heappop(running)[-1]):
                heapq.heappush(queue, (*graph.rank(dependent), dependent))
    return now_s


def dag_model(spec: Path, cold: Build, slowdown: float | None = None) -> list[tuple[str, str]]:
    """What the DAG alone allows on more cores: its critical path in the seconds each node took in a cold
    -j 1 build, and the executor's queue replayed on MODEL_WORKERS workers, ordered by those seconds (as a
    build after it orders) and by node count (as a first build does). A model: no node slower beside others
    (on the 16-core machine of issue 14 the nodes' summed seconds grew 36 -> 58 s from -j 1 to -j 16).

    Then the same with the build's own start and end added (the -j 1 build's seconds before its first node
    and after its last, which no number of cores shortens): the most any -j can gain over it. `slowdown`:
    how much slower a build ran beside a second (`side_by_side`), applied to the nodes of the 2-worker
    schedule: an estimate of -j 2 on this machine, not a bound (two tasks of one process share page cache
    and heap that two builds do not, and the machine's contention varies from minute to minute)."""
    from mixbuild.pipeline import api

    nodes = api.graph(api.load(spec))
    seconds = node_costs(nodes, cold.seconds_by_node)
    by_seconds = Graph(nodes, lambda: seconds)
    total_s = sum(seconds.values())
    path = [max(nodes, key=by_seconds.priority)]  # the critical path's first node, then its longest dependent's
    critical_s = by_seconds.priority(path[0])
    if critical_s <= 0:
        return [("DAG model", "no node seconds to model (the build rendered nothing)")]
    spans_s = {w: (makespan_s(nodes, seconds, w, lambda: seconds), makespan_s(nodes, seconds, w))
               for w in MODEL_WORKERS}
    spans = ", ".join(f"{w} workers {span_s:.2f} s ({total_s / span_s:.1f}x; ordered by node count {count_s:.2f} s)"
                      for w, (span_s, count_s) in spans_s.items())
    while by_seconds.dependents[path[-1]]:
        path.append(max(by_seconds.dependents[path[-1]], key=by_seconds.priority))
    rows = [("DAG model (the -j 1 build's node seconds)",
             f"critical path {critical_s:.2f} s of {total_s:.1f} node s: at most {total_s / critical_s:.1f}x on "
             f"any number of cores; scheduled: {spans}"),
            ("  critical path", ", ".join(f"{node_id} {seconds[node_id]:.2f}" for node_id in path
                                          if seconds[node_id] >= 0.01))]
    if cold.head_s is None or cold.tail_s is None:
        return rows
    start_end_s = cold.head_s + cold.tail_s
    with_ends = ", ".join(f"{w} workers {cold.wall_s / (start_end_s + count_s):.1f}x"
                          for w, (_, count_s) in spans_s.items())  # a cold build queues by node count
    rows.append(("  with the build's start and end",
                 f"{cold.head_s:.2f} s before its first node (interpreter, imports, plan; at -j 1 the sources are "
                 f"hashed on one thread) and {cold.tail_s:.2f} s after its last (delivery, report, exit) of "
                 f"{cold.wall_s:.2f} s: the model allows about {cold.wall_s / (start_end_s + critical_s):.1f}x at "
                 f"most on any number of cores; the schedules above with them: {with_ends}"))
    first = first_node_excess(cold)
    if first is not None:
        first_node, load_s = first
        serial_s = start_end_s + load_s
        rows.append(("  -j 2, one task at a time",
                     f"{first_node}, its first node that the other songs have too, took {load_s:.2f} s longer than "
                     f"theirs (numba's kernels loading, where the process had not loaded them; the other task waits "
                     f"for the same kernels); with the start and end, {serial_s:.2f} of {cold.wall_s:.2f} s run "
                     f"one task at a time: the model allows -j 2 about "
                     f"{cold.wall_s / (serial_s + (cold.wall_s - serial_s) / 2):.2f}x at most (a run whose -j 1 "
                     f"builds ran slow can read more)"))
    if slowdown is not None:
        estimate_s = start_end_s + spans_s[2][1] * slowdown
        rows.append(("  -j 2 with nodes slowed as side by side",
                     f"{spans_s[2][1]:.2f} s x {slowdown:.3f} + {start_end_s:.2f} s = {estimate_s:.2f} s, "
                     f"{cold.wall_s / estimate_s:.2f}x (an estimate)"))
    return rows


def first_node_excess(cold: Build) -> tuple[str, float] | None:
    """The first song node a -j 1 build started that the other songs have too (bench_scale's songs are alike:
    `song-NN/<rest>`), and how much longer it took than the median of theirs, 0 at least: what a fresh process
    pays in it for loading numba's kernels. Only at -j 1: at -j 2 its peer started beside it waits for the same
    load. None where no node has peers."""
    for first in cold.first_nodes:
        song, _, rest = first.partition("/")
        if not song.startswith("song-"):
            continue
        alike = [seconds for node, seconds in cold.seconds_by_node.items()
                 if node != first and node.startswith("song-") and node.partition("/")[2] == rest]
        if alike:
            return first, max(0.0, cold.seconds_by_node[first] - statistics.median(alike))
    return None


def side_by_side(album: Album, work: Path, rounds: int) -> tuple[list[float], list[float]]:
    """How much two builds slow each other on this machine, apart from anything one process shares (its
    GIL, its allocator): `rounds` times, a cold -j 1 build alone and two at once, each into a cache of its own,
    taking turns which comes first (a build's time depends on what ran just before it). Returns the walls alone
    and side by side."""
    dirs = [(work / f"cache-pair{i}", work / f"out-pair{i}") for i in (0, 1)]

    def cold(cache: Path, out: Path) -> float:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
        return build(album.spec, cache, out, 1).wall_s

    alone: list[float] = []
    paired: list[float] = []

    def one() -> None:
        alone.append(cold(*dirs[0]))

    def two() -> None:
        with ThreadPoolExecutor(2) as pool:
            paired.extend(pool.map(lambda cache_out: cold(*cache_out), dirs))

    for round_ in range(rounds):
        progress(f"a cold build -j 1 alone and two side by side ({round_ + 1} of {rounds}) ...")
        for step in (one, two) if round_ % 2 == 0 else (two, one):
            step()
    for cache, out in dirs:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
    return alone, paired


def machine() -> str:
    return f"{os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}"


def print_table(rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


def compile_once() -> None:
    """Python caches compiled modules on first import unless told not to (this sandbox does): compile
    ours once, as a user's first run would, so that no timed build recompiles them."""
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        for package in ("mixbuild", "pipeline", "stages"):  # compileall does not follow the links
            compileall.compile_dir(REPO / package, quiet=1)
        progress("PYTHONDONTWRITEBYTECODE is set: compiled mixbuild/, pipeline/ and stages/ once, as a first run would")


def warm_up(work: Path) -> None:
    """Build a tiny album once, untimed: numba compiles its kernels into its on-disk cache on the first
    build after a source change (seconds), which a user pays once, not on every build measured here."""
    tiny = write_studio(work / "warm-up", StudioPlan(songs=1, stems=3, seconds=4.0))
    build(tiny.spec, work / "warm-up" / "cache", work / "warm-up" / "out", 1)
    progress("warm-up build done (numba's kernels compiled and cached on disk)")


@contextmanager
def serving() -> Iterator[dict[str, str]]:
    """A `mixbuild serve` in a private socket folder of its own, while the block runs; yields the environment
    whose `mixbuild` commands it serves; a server that stopped before the end (gone stale: an edit) fails the run."""
    run_dir = Path(tempfile.mkdtemp(prefix="mb-serve-"))
    served_env = {**env(), "XDG_RUNTIME_DIR": str(run_dir)}
    log = run_dir / "serve.log"
    with log.open("w") as sink:
        server = subprocess.Popen([*LAUNCHER, "serve", "--idle-minutes", "30"], cwd=REPO, env=served_env,
                                  stdout=sink, stderr=sink)
    try:
        while "serving at" not in log.read_text():
            if server.poll() is not None:
                raise SystemExit(f"mixbuild serve failed: {log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield served_env
        if server.poll() is not None:
            raise SystemExit(f"mixbuild serve stopped during the run: {log.read_text()[-3000:]}")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait()
        shutil.rmtree(run_dir, ignore_errors=True)


def served_builds(spec: Path, cache: Path, out: Path, jobs: int, edits: Iterable[object]) -> tuple[list[Build], ...]:
    """The same tweak from a fresh process and through `mixbuild serve` (a fork of a warm process), taking
    turns after each edit: (fresh, served)."""
    fresh: list[Build] = []
    served: list[Build] = []
    with serving() as served_env:
        for turn, _ in enumerate(edits):
            if turn % 2:
                served.append(build(spec, cache, out, jobs, LAUNCHER, served_env))
            else:
                fresh.append(build(spec, cache, out, jobs, LAUNCHER, {**served_env, "MIXBUILD_NO_SERVER": "1"}))
    return fresh, served


REBUILDS = ("noop", "stem", "master", "tags", "warm", "served")


def rebuilds(album: Album, cache: Path, out: Path, jobs: int, repeat: int,
             kinds: tuple[str, ...] = REBUILDS) -> list[tuple[str, str]]:
    """The rebuilds after each kind of tweak in `kinds`, `repeat` of each, from the cold build's cache."""
    progress(f"rebuilds at -j {jobs}, {repeat} of each ...")
    song = album.song_specs[0]
    runs = {
        "noop": (f"no-op rebuild (-j {jobs})", lambda: range(repeat)),
        "stem": (f"one-stem tweak ({song.stem}/{tweaked_stem(song)} gain_db)", lambda: stem_gain_edits(song, repeat)),
        "master": ("album-master tweak (compressor threshold_db)", lambda: master_threshold_edits(album.spec, repeat)),
        "tags": ("tag-only change (streaming comment)", lambda: tag_edits(album.spec, repeat)),
    }
    rows: list[tuple[str, str]] = []
    for kind in kinds:
        if kind == "warm":  # the one-stem tweak again, in one long-lived process: what `watch` waits for
            rows += rebuild_rows("one-stem tweak, warm process (as watch)",
                                 warm_builds(album.spec, cache, out, jobs, stem_gain_edits(song, repeat + 1)))
            continue
        if kind == "served":  # the one-stem tweak from the command line, with and without `mixbuild serve`
            fresh, served = served_builds(album.spec, cache, out, jobs, stem_gain_edits(song, 2 * repeat))
            rows += [*rebuild_rows("one-stem tweak, fresh process (taking turns)", fresh),
                     *rebuild_rows("one-stem tweak, `mixbuild serve` running", served),
                     ("  served / fresh", f"{median_wall_s(served) / median_wall_s(fresh):.2f}x")]
            continue
        label, edits = runs[kind]
        rows += rebuild_rows(label, rebuild_after_each(album.spec, cache, out, jobs, edits()))
    return rows


def run(args: argparse.Namespace, work: Path) -> None:
    started = time.perf_counter()
    compile_once()
    warm_up(work)
    plan = StudioPlan(songs=args.songs, stems=args.stems, seconds=args.seconds)
    progress(f"synthesising {plan.songs} songs x {plan.stems} stems x {plan.seconds:g} s into {work} ...")
    album = write_studio(work / "album", plan, workers=os.cpu_count() or 1)
    synthesis_s = time.perf_counter() - started
    source_bytes = sum(disk_bytes(path.stat()) for path in album.stem_files)

    with ExitStack() as stack:
        served_env = stack.enter_context(serving()) if args.served else None
        colds, cache, out = cold_builds(album, work, args.jobs, args.cold_repeat, served_env)
    cache_bytes = tree_bytes(cache, "objects")
    base_s = median_wall_s(colds[0])
    jobs = args.jobs[-1]
    rows = []
    for runs in colds:
        wall_s, node_s = median_wall_s(runs), statistics.median(b.node_seconds for b in runs)
        memory = "" if args.served else (f", peak RSS {max(b.largest_rss_mb for b in runs):.0f} MB largest process, "
                                         f"{max(b.tree_rss_mb for b in runs):.0f} MB tree")  # a fork is no child
        rows.append((f"cold build -j {runs[0].jobs}{' (served)' if args.served else ''}",
                     f"{walls(runs)}, speedup {base_s / wall_s:.2f}x vs -j {colds[0][0].jobs} (medians), "
                     f"wall x jobs / node s {wall_s * runs[0].jobs / node_s:.2f} (node s {node_s:.1f}){memory}, "
                     f"{runs[0].rendered} nodes"))
    slowdown = None
    if args.side_by_side:
        alone, paired = side_by_side(album, work, args.cold_repeat)
        slowdown = statistics.median(paired) / statistics.median(alone)
        rows.append(("two cold -j 1 builds side by side",
                     f"{statistics.median(paired):.2f} s each ({min(paired):.2f}-{max(paired):.2f}) against "
                     f"{statistics.median(alone):.2f} s alone ({min(alone):.2f}-{max(alone):.2f}), medians: "
                     f"{slowdown:.3f}x"))
    if args.jobs[0] == 1:
        rows += dag_model(album.spec, sorted(colds[0], key=lambda b: b.wall_s)[len(colds[0]) // 2], slowdown)
    if not args.cold_only:
        rows += rebuilds(album, cache, out, jobs, args.repeat, tuple(args.rebuilds))
    rows.append(("cache bytes / source bytes",
                 f"{cache_bytes / source_bytes:.2f} ({cache_bytes / 1e9:.2f} GB / {source_bytes / 1e9:.2f} GB)"))
    if not args.work:
        shutil.rmtree(cache, ignore_errors=True)  # disk: a temp dir's caches can be gigabytes
    if not (args.no_scale or args.cold_only):
        rows += scale_comparison(work, args, jobs)

    alone_s, paired_s = memory_pass_slowdown()
    print(f"machine: {machine()}; a memory-bound pass takes {alone_s:.2f} s alone, {paired_s:.2f} s beside a second "
          f"(-j 2 ceiling for such work: {2 * alone_s / paired_s:.2f}x)")
    print(f"flags: --songs {args.songs} --stems {args.stems} --seconds {args.seconds:g} "
          f"--jobs {' '.join(map(str, args.jobs))} --cold-repeat {args.cold_repeat} --repeat {args.repeat} "
          f"--scale-stems {args.scale_stems} "
          f"--scale-seconds {args.scale_seconds:g}{' --no-scale' if args.no_scale else ''} "
          f"--rebuilds {' '.join(args.rebuilds)}"
          f"{' --cold-only' if args.cold_only else ''}{' --served' if args.served else ''}"
          f"{' --side-by-side' if args.side_by_side else ''}; late entries at "
          f"{plan.late_entry_s:g} s")
    print(f"album: {plan.songs * plan.seconds:g} s of music, {plan.songs * plan.stems} stems, 2 targets; "
          f"rebuilds are medians of {args.repeat} (range), wall incl. process start (the warm process's: the "
          f"build alone)")
    print_table(rows)
    print(f"whole run {time.perf_counter() - started:.0f} s (synthesis {synthesis_s:.0f} s)")


def parse_args() -> argparse.Namespace:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=4)
    parser.add_argument("--stems", type=int, default=16, help="stems per song")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each song")
    parser.add_argument("--jobs", type=int, nargs="+", default=list(range(1, cores + 1)),
                        help=f"-j values of the cold builds (default 1..{cores}); rebuilds use the last")
    parser.add_argument("--repeat", type=int, default=3, help="rebuilds of each kind (median)")
    parser.add_argument("--cold-repeat", type=int, default=1, help="cold builds at each -j, taking turns (median)")
    parser.add_argument("--rebuilds", nargs="+", choices=REBUILDS, default=list(REBUILDS), help="which rebuilds")
    parser.add_argument("--served", action="store_true",
                        help="the cold builds run as `mixbuild` commands with `mixbuild serve` running (no start-up "
                             "cost; their memory is then not measured)")
    parser.add_argument("--scale-stems", type=int, default=4, help="stems per song of the 2- and 8-song albums")
    parser.add_argument("--scale-seconds", type=float, default=30.0, help="song length of the 2/8-song albums")
    parser.add_argument("--no-scale", action="store_true", help="skip the 2- vs 8-song comparison")
    parser.add_argument("--cold-only", action="store_true", help="cold builds and cache size only (memory at length)")
    parser.add_argument("--side-by-side", action="store_true",
                        help="also, --cold-repeat times, a cold -j 1 build alone and then two at once: how much two "
                             "builds slow each other here, and -j 2 estimated with that slowdown (the DAG model's "
                             "last row)")
    parser.add_argument("--work", type=Path, help="work directory to keep, outside the repository (default: a "
                        "temp dir, removed); keeps stems, specs, outputs and the caches rebuilt into")
    return parser.parse_args()


def in_work_dir(arguments: argparse.Namespace, run_in: Callable[[argparse.Namespace, Path], None],
                prefix: str) -> None:
    """Run in --work (kept; never inside the repository: gigabytes of audio) or in a temp dir, removed."""
    if arguments.work:
        work_dir = arguments.work.resolve()
        if work_dir.is_relative_to(REPO):
            raise SystemExit(f"--work {arguments.work}: outside the repository, please (gigabytes of audio)")
        work_dir.mkdir(parents=True, exist_ok=True)
        run_in(arguments, work_dir)
    else:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            run_in(arguments, Path(tmp))


if __name__ == "__main__":
    in_work_dir(parse_args(), run, "mixbuild-scale-")
