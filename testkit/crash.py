"""kill -9 campaign: builds killed at random moments, each followed by a plain rebuild that must be whole."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from mixbuild.pipeline.atomic import is_temp_name
from mixbuild.pipeline.dirswitch import ASIDE_SUFFIX, NEXT_SUFFIX

from .outdir import deliverables, temp_files, undecodable
from .proc import REPO, REPORT, build, build_cmd, env, killpg, verify


@dataclass
class CrashFigures:
    """What a crash campaign found, summed over its kills."""

    kills: int = 0
    killed_mid_build: int = 0  # the build had not finished when it was killed
    clean_rebuilds: int = 0
    bad_cache_entries: int = 0
    partial_files: int = 0  # visible non-temp deliverables that differ from a clean build's
    temp_files_after_rebuild: int = 0
    undecodable_files: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"crashes: {self.kills} kills ({self.killed_mid_build} mid-build), {self.clean_rebuilds} clean "
                f"rebuilds, {self.bad_cache_entries} bad cache entries, {self.partial_files} partial files, "
                f"{self.temp_files_after_rebuild} temp files left after rebuild")


def crash_campaign(spec: Path, work: Path, kills: int, seed: int = 0, jobs: int = 3,
                   log=lambda msg: None) -> CrashFigures:
    """Kill -9 builds of ``spec`` at random moments, rebuild after each kill, check everything.

    Reference: a clean cold build (its wall time bounds the kill moments; a victim that finishes
    sooner shortens it, so a reference slowed by a busy machine does not waste kills). Each round starts
    from an empty cache (so the kill lands in real rendering) and, every other round, from an
    empty output dir too (so deliveries are in flight); the out dir otherwise keeps the last
    build's files.
    """
    rng = random.Random(seed)
    ref_cache, ref_out = work / "ref-cache", work / "ref-out"
    started = time.perf_counter()
    proc = build(spec, ref_cache, ref_out, jobs)
    cold_s = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr
    clean = deliverables(ref_out)
    cache, out = work / "cache", work / "out"
    fig = CrashFigures()
    for i in range(kills):
        shutil.rmtree(cache, ignore_errors=True)
        if i % 2 == 0:
            shutil.rmtree(out, ignore_errors=True)
        delay = rng.uniform(0.05, cold_s * 1.05)
        started = time.perf_counter()
        victim = subprocess.Popen(build_cmd(spec, cache, out, jobs), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env=env(), cwd=REPO, start_new_session=True)
        try:
            victim.wait(timeout=delay)
            # it finished first: the reference was slow (a busy machine), so later kills aim within this time
            cold_s = min(cold_s, time.perf_counter() - started)
        except subprocess.TimeoutExpired:
            fig.killed_mid_build += 1
        killpg(victim)
        fig.kills += 1
        _check_after_kill(fig, out, clean, f"kill {i} at {delay:.2f}s")
        ok = _check_rebuild(fig, spec, cache, out, jobs, clean, f"kill {i} at {delay:.2f}s")
        log(f"kill {i + 1}/{kills} at {delay:.2f}s of ~{cold_s:.1f}s: {'ok' if ok else 'PROBLEM'}")
    return fig


def _staging(relative: str) -> bool:
    """Whether a path lies in a hidden sibling a folder switch assembles in (never shown; the next build
    settles it, which `_check_rebuild` checks)."""
    return any(part.startswith(".") and part.endswith((NEXT_SUFFIX, ASIDE_SUFFIX)) for part in Path(relative).parts)


def _check_after_kill(fig: CrashFigures, out: Path, clean: dict[str, bytes], when: str) -> None:
    """Right after the kill: every visible deliverable is whole (identical to the clean one)."""
    if not out.exists():
        return
    seen = {k: v for k, v in deliverables(out).items() if not is_temp_name(Path(k).name) and not _staging(k)}
    partial = [k for k, v in seen.items() if clean.get(k) != v]
    fig.partial_files += len(partial)
    if (out / REPORT).exists():
        json.loads((out / REPORT).read_text())  # whole, or absent
    if partial:
        fig.problems.append(f"{when}: partial files {partial}")


def _check_rebuild(fig: CrashFigures, spec: Path, cache: Path, out: Path, jobs: int,
                   clean: dict[str, bytes], when: str) -> bool:
    """The plain rebuild after a kill: succeeds, sound cache, no temp files, the clean bytes."""
    rebuilt = build(spec, cache, out, jobs)
    if rebuilt.returncode != 0:
        fig.problems.append(f"{when}: rebuild failed: {rebuilt.stderr.strip()}")
        return False
    code, bad = verify(cache)
    leftovers, broken = temp_files(out), undecodable(out)
    same = deliverables(out) == clean
    fig.bad_cache_entries += len(bad)
    fig.temp_files_after_rebuild += len(leftovers)
    fig.undecodable_files += len(broken)
    if code != 0 or bad:
        fig.problems.append(f"{when}: cache verify exit {code}: {bad}")
    if leftovers:
        fig.problems.append(f"{when}: temp files left in out dir: {leftovers}")
    if broken:
        fig.problems.append(f"{when}: undecodable: {broken}")
    if not same:
        fig.problems.append(f"{when}: rebuilt deliverables differ from a clean build's")
    ok = code == 0 and not bad and not leftovers and not broken and same
    fig.clean_rebuilds += ok
    return ok
