"""The real CLI in fresh subprocesses, as a user runs it: no per-process memo hides damage
done between steps, and a kill -9 hits a build and its workers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from mixbuild.pipeline.cli import main; main()"]
REPORT = "build-report.json"


def env() -> dict[str, str]:
    """This environment with the checkout first on PYTHONPATH and no MIXBUILD_CACHE override."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), e.get("PYTHONPATH")]))
    e.pop("MIXBUILD_CACHE", None)
    return e


def build_cmd(spec: Path, cache: Path, out: Path, jobs: int = 2) -> list[str]:
    return CLI + ["build", str(spec), "--cache", str(cache), "--out", str(out), "-j", str(jobs)]


def cli(*args, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    """`mixbuild ARGS` in a subprocess, output captured."""
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          env=env(), cwd=REPO, **kw)


def build(spec: Path, cache: Path, out: Path, jobs: int = 2, timeout: float = 900,
          **kw) -> subprocess.CompletedProcess:
    """`mixbuild build` in a subprocess; ``kw`` goes to subprocess.run (a preexec_fn, say)."""
    return subprocess.run(build_cmd(spec, cache, out, jobs), capture_output=True, text=True, timeout=timeout,
                          env=env(), cwd=REPO, **kw)


def report(out: Path) -> dict:
    """The build report a build left in ``out``."""
    return json.loads((out / REPORT).read_text())


def verify(cache: Path) -> tuple[int, list[dict]]:
    """(exit code of `mixbuild cache verify`, bad entries from its --json)."""
    proc = cli("cache", "verify", "--cache", cache, "--json")
    bad = json.loads(proc.stdout)["bad"] if proc.stdout.strip() else [{"reason": proc.stderr}]
    return proc.returncode, bad


def plan(spec: Path, cache: Path, out: Path) -> dict[str, dict]:
    """`mixbuild plan --json` entries by node id (why: against the last build into ``out``)."""
    proc = cli("plan", spec, "--cache", cache, "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    return {e["id"]: e for e in json.loads(proc.stdout)}


def race(commands: list[list[str]], timeout: float = 900) -> list[subprocess.CompletedProcess]:
    """Start every command at once; wait for all."""
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(), cwd=REPO)
             for c in commands]
    results = []
    for cmd, proc in zip(commands, procs):
        out, err = proc.communicate(timeout=timeout)
        results.append(subprocess.CompletedProcess(cmd, proc.returncode, out, err))
    return results


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


def pid_after(seconds: float) -> int:
    """A stand-in task for a worker pool: sleeps, then says which process ran it (importable by loky's workers,
    which a test module is not)."""
    time.sleep(seconds)
    return os.getpid()
