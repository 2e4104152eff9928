"""Fault-campaign helpers shared by the reliability tests and benchmarks/fault_campaign.py.

Everything runs the real CLI in subprocesses (a fresh process per build, as a user would),
so a kill -9 hits the build and its loky workers, and no per-process verification memo
can hide damage done between steps.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import soundfile

from pipeline.atomic import is_temp_name
from pipeline.cache import Cache

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from pipeline.cli import main; main()"]
REPORT = "build-report.json"


def load_project_class():
    """tests/conftest.py's Project (a small 2-song album), importable outside pytest too."""
    spec = importlib.util.spec_from_file_location("_mixbuild_conftest", REPO / "tests" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Project


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), e.get("PYTHONPATH")]))
    e.pop("MIXBUILD_CACHE", None)
    return e


def build_cmd(spec: Path, cache: Path, out: Path, jobs: int = 2) -> list[str]:
    return CLI + ["build", str(spec), "--cache", str(cache), "--out", str(out), "-j", str(jobs)]


def cli(*args: str, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          env=env(), cwd=REPO, **kw)


def build(spec: Path, cache: Path, out: Path, jobs: int = 2, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(build_cmd(spec, cache, out, jobs), capture_output=True, text=True, timeout=timeout,
                          env=env(), cwd=REPO)


def report(out: Path) -> dict:
    return json.loads((out / REPORT).read_text())


def deliverables(out: Path) -> dict[str, bytes]:
    """Every file under ``out`` but the build report (temp files included, so they show up in a diff)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != REPORT}


def temp_files(out: Path) -> list[str]:
    return [str(p.relative_to(out)) for p in out.rglob("*") if is_temp_name(p.name)]


def undecodable(out: Path) -> list[str]:
    """Audio files under ``out`` (temp files skipped) that do not decode in full."""
    bad = []
    for path in out.rglob("*"):
        if path.suffix.lower() not in (".wav", ".flac", ".aiff", ".aif") or is_temp_name(path.name):
            continue
        try:
            info = soundfile.info(str(path))
            data, _ = soundfile.read(str(path))
            if len(data) != info.frames or info.frames == 0:
                bad.append(str(path))
        except Exception:  # noqa: BLE001 - anything that does not decode is a partial file
            bad.append(str(path))
    return bad


def verify(cache: Path) -> tuple[int, list[dict]]:
    """(exit code of `mixbuild cache verify`, bad entries from its --json)."""
    proc = cli("cache", "verify", "--cache", cache, "--json")
    bad = json.loads(proc.stdout)["bad"] if proc.stdout.strip() else [{"reason": proc.stderr}]
    return proc.returncode, bad


def plan(spec: Path, cache: Path) -> dict[str, dict]:
    proc = cli("plan", spec, "--cache", cache, "--json")
    assert proc.returncode == 0, proc.stderr
    return {e["id"]: e for e in json.loads(proc.stdout)}


def killpg(proc: subprocess.Popen) -> None:
    """SIGKILL the build's whole session (the CLI, its loky workers, their resource tracker)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # a worker that had started its own group would survive killpg: there must be none
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"processes of group {proc.pid} survived SIGKILL")


# ---------------------------------------------------------------------------------------- crashes


@dataclass
class CrashFigures:
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


def crash_campaign(spec: Path, work: Path, kills: int, seed: int = 0, jobs: int = 2,
                   log=lambda msg: None) -> CrashFigures:
    """Kill -9 builds of ``spec`` at random moments, rebuild after each kill, check everything.

    Reference: a clean cold build (its wall time bounds the kill moments). Each round starts
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
        victim = subprocess.Popen(build_cmd(spec, cache, out, jobs), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env=env(), cwd=REPO, start_new_session=True)
        time.sleep(delay)
        fig.killed_mid_build += victim.poll() is None
        killpg(victim)
        fig.kills += 1
        # right after the kill: every visible deliverable is whole (identical to the clean one)
        if out.exists():
            seen = {k: v for k, v in deliverables(out).items() if not is_temp_name(Path(k).name)}
            partial = [k for k, v in seen.items() if clean.get(k) != v]
            fig.partial_files += len(partial)
            if (out / REPORT).exists():
                json.loads((out / REPORT).read_text())  # whole, or absent
            if partial:
                fig.problems.append(f"kill {i} at {delay:.2f}s: partial files {partial}")
        rebuilt = build(spec, cache, out, jobs)
        if rebuilt.returncode != 0:
            fig.problems.append(f"kill {i} at {delay:.2f}s: rebuild failed: {rebuilt.stderr.strip()}")
            continue
        code, bad = verify(cache)
        fig.bad_cache_entries += len(bad)
        leftovers = temp_files(out)
        fig.temp_files_after_rebuild += len(leftovers)
        broken = undecodable(out)
        fig.undecodable_files += len(broken)
        same = deliverables(out) == clean
        if code != 0 or bad:
            fig.problems.append(f"kill {i} at {delay:.2f}s: cache verify exit {code}: {bad}")
        if leftovers:
            fig.problems.append(f"kill {i} at {delay:.2f}s: temp files left in out dir: {leftovers}")
        if broken:
            fig.problems.append(f"kill {i} at {delay:.2f}s: undecodable: {broken}")
        if not same:
            fig.problems.append(f"kill {i} at {delay:.2f}s: rebuilt deliverables differ from a clean build's")
        if code == 0 and not bad and not leftovers and not broken and same:
            fig.clean_rebuilds += 1
        log(f"kill {i + 1}/{kills} at {delay:.2f}s of ~{cold_s:.1f}s: "
            f"{'ok' if same and not bad and not leftovers else 'PROBLEM'}")
    return fig


# ------------------------------------------------------------------------------------------ races


def race(commands: list[list[str]], timeout: float = 900) -> list[subprocess.CompletedProcess]:
    """Start every command at once; wait for all."""
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(), cwd=REPO)
             for c in commands]
    results = []
    for cmd, proc in zip(commands, procs):
        out, err = proc.communicate(timeout=timeout)
        results.append(subprocess.CompletedProcess(cmd, proc.returncode, out, err))
    return results


def second_album(project) -> Path:
    """Another album over the same stem files: songs in the other order, another title and master."""
    import yaml

    spec = dict(project.spec)
    spec["title"] = "Other Album"
    spec["songs"] = list(reversed(project.spec["songs"]))
    spec["master"] = {"album_loudness": "album", "compressor": {"threshold_db": -18, "ratio": 1.5}}
    path = project.root / "album2.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


# ------------------------------------------------------------------------------------- corruption

DAMAGES = ("flip", "truncate", "delete")


def damage_object(path: Path, how: str, rng: random.Random) -> None:
    if how == "delete":
        path.unlink()
        return
    data = bytearray(path.read_bytes())
    if how == "flip":
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    else:
        data = data[: rng.randrange(len(data))]
    path.write_bytes(bytes(data))  # in place, as bit rot or a careless tool would


GARBAGE = (b"", b"\x00\xff\xfe garbage \x80", b"[]", b"null", b"{", b'{"key": "nope"}',
           b'{"key": "%(key)s", "kind": "array", "digest": "zz"}',
           b'{"key": "%(key)s", "kind": "pickle", "digest": "%(key)s"}',
           b'{"key": "%(key)s", "kind": "array", "digest": "0123456789abcdef0123456789abcdef"}')


def garbage_action(path: Path, rng: random.Random) -> bytes:
    data = rng.choice(GARBAGE)
    if b"%(" in data:
        data = data % {b"key": path.stem.encode()}
    path.write_bytes(data)
    return data


def nodes_hit(nodes: list[dict], cache: Cache, damaged_digests: set[str]) -> set[str]:
    """Ids of nodes whose output object, or a blob their JSON output references, was damaged."""
    hit = set()
    for node in nodes:
        refs = {node["digest"]}
        if node["output"] == "json":
            refs |= cache.blob_refs(node["digest"])
        if refs & damaged_digests:
            hit.add(node["id"])
    return hit


# -------------------------------------------------------------------------------------- disk full


def try_tmpfs(directory: Path, size: str) -> bool:
    """Mount a tmpfs of ``size`` at ``directory`` (root only); False where mount is not permitted."""
    directory.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None or os.geteuid() != 0:
        return False
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
                          capture_output=True, text=True)
    return proc.returncode == 0


def remount(directory: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(directory)], check=True, capture_output=True)


def umount(directory: Path) -> None:
    subprocess.run(["umount", "-l", str(directory)], capture_output=True)


def build_with_fsize_limit(spec: Path, cache: Path, out: Path, limit_bytes: int, jobs: int = 1):
    """A build whose processes may not write a file larger than ``limit_bytes`` (EFBIG, not SIGXFSZ)."""
    import resource

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run(build_cmd(spec, cache, out, jobs), capture_output=True, text=True, env=env(), cwd=REPO,
                          preexec_fn=limit, timeout=900)
