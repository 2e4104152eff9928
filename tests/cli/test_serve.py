"""`mixbuild serve`: commands run in forks of one warm process and behave exactly as they do without it
(files, output, exit status, Ctrl-C); a client of another install or environment, or an unsafe socket folder,
runs the command itself."""

from __future__ import annotations

import hashlib
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from mixbuild.pipeline import launch
from testkit.proc import REPO, env

LAUNCH = [sys.executable, "-m", "mixbuild"]
SERVE_START_S = 180  # the first server of a fresh checkout compiles the kernels (~25 s, more on a busy CI)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="serve is Linux-only")


def _env(run_dir: Path, **extra: str) -> dict[str, str]:
    e = env()
    e.pop(launch.NO_SERVER_ENV, None)
    e["XDG_RUNTIME_DIR"] = str(run_dir)
    e.update(extra)
    return e


def _wait_for(path: Path, pattern: str, timeout_s: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = re.search(pattern, path.read_text()) if path.exists() else None
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {pattern!r} in {path} within {timeout_s} s:\n{path.read_text()}")


def _short_dir() -> Path:
    """A run folder whose socket path fits sun_path (pytest's tmp_path may not)."""
    return Path(tempfile.mkdtemp(prefix="mb-"))  # mode 0700


class Served:
    def __init__(self, root: Path, idle_minutes: float = 5.0):
        self.run_dir = _short_dir()
        self.log = root / "serve.log"
        with self.log.open("w") as sink:
            self.proc = subprocess.Popen([*LAUNCH, "serve", "--idle-minutes", str(idle_minutes)], cwd=REPO,
                                         env=_env(self.run_dir), stdout=sink, stderr=sink)
        _wait_for(self.log, r"serving at ", SERVE_START_S)

    def run(self, *args: object, cwd: Path = REPO, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([*LAUNCH, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd,
                              env=_env(self.run_dir, **extra))

    def forks(self) -> list[int]:
        return [int(pid) for pid in re.findall(r"pid (\d+): mixbuild ", self.log.read_text())]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.run_dir, ignore_errors=True)


@pytest.fixture()
def served(tmp_path):
    server = Served(tmp_path)
    yield server
    server.stop()


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "build-report.json"
            and not p.name.startswith(".mixbuild")}  # the report and lock name the run (its seconds, its pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_served_build_is_a_local_build(served, project):
    build = ["build", project.path, "-j", "2"]
    here = served.run(*build, "--cache", project.root / "c1", "--out", project.root / "o1",
                      **{launch.NO_SERVER_ENV: "1"})
    there = served.run(*build, "--cache", project.root / "c2", "--out", project.root / "o2")
    assert here.returncode == there.returncode == 0, there.stderr
    assert len(served.forks()) == 1, served.log.read_text()  # the second ran in a fork; the first here, as asked
    assert _digests(project.root / "o1") == _digests(project.root / "o2") != {}
    same = lambda text: re.sub(r"\(\d+\.\d+ s\)", "", text).replace("o2", "o1")  # noqa: E731 - seconds, folder
    assert same(here.stdout) == same(there.stdout)
    # a no-op from the fork: the same cache, nothing renders
    again = served.run(*build, "--cache", project.root / "c2", "--out", project.root / "o2", "--json")
    assert again.returncode == 0 and '"rendered": 0' in again.stdout
    # the log says what each fork cost: the build's CPU exceeds the no-op's, each peak holds the server's pages
    costs = [(float(user), int(peak)) for user, peak in re.findall(
        r"pid \d+: exit 0 \(user (\d+\.\d+) s, system \d+\.\d+ s, \d+ page faults, peak (\d+) MB\)",
        served.log.read_text())]
    assert len(costs) == 2 and costs[0][0] > costs[1][0] and all(peak > 50 for _, peak in costs), costs


def test_errors_and_exit_status_are_the_commands(served, tmp_path):
    missing = tmp_path / "nowhere.yaml"
    here = served.run("build", missing, **{launch.NO_SERVER_ENV: "1"})
    there = served.run("build", missing)
    assert there.returncode == here.returncode == 2
    assert there.stderr == here.stderr and there.stderr.count("\n") == 1 and str(missing) in there.stderr
    assert served.run("--version").stdout == served.run("--version", **{launch.NO_SERVER_ENV: "1"}).stdout
    assert len(served.forks()) == 2


def _start_watch(served: Served, project) -> subprocess.Popen:
    proc = subprocess.Popen([*LAUNCH, "watch", str(project.path), "--cache", str(project.root / "cache"), "--out",
                             str(project.root / "build"), "-j", "1", "--interval-s", "0.05"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env=_env(served.run_dir))
    for line in proc.stdout:
        if line.startswith("watching "):
            return proc
    raise AssertionError(f"the watch ended: {proc.stderr.read()}")


def _fork_of_watch(served: Served) -> int:
    return int(_wait_for(served.log, r"pid (\d+): mixbuild watch", 30).group(1))


def test_ctrl_c_reaches_the_forked_command(served, project):
    proc = _start_watch(served, project)
    fork = _fork_of_watch(served)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "stopped watching" in out  # what a local watch says and returns on Ctrl-C
    _wait_for(served.log, rf"pid {fork}: exit 0", 30)
    assert not _alive(fork)


def _state(pid: int) -> str:
    """The process's state letter in /proc (S sleeping, R running, T stopped)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("State:"):
            return line.split()[1]
    raise AssertionError(f"no state for {pid}")


def _wait_state(pid: int, states: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while _state(pid) not in states:
        assert time.monotonic() < deadline, f"{pid} stays {_state(pid)}, not {states}"
        time.sleep(0.05)


def test_ctrl_z_stops_the_fork_and_fg_continues_it(served, project):
    proc = _start_watch(served, project)
    fork = _fork_of_watch(served)
    proc.send_signal(signal.SIGTSTP)  # Ctrl-Z: the shell's job stops, the fork with it
    _wait_state(fork, "T")
    _wait_state(proc.pid, "T")
    proc.send_signal(signal.SIGCONT)  # fg
    _wait_state(fork, "SR")
    _wait_state(proc.pid, "SR")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "stopped watching" in out


SUSPENDED_EARLY = """
import os, signal, subprocess
from mixbuild.pipeline.launch import _Forwarder
fork = subprocess.Popen(["sleep", "60"])  # stands in for the fork the server has not named yet
forwarder = _Forwarder()
forwarder.install()
os.kill(os.getpid(), signal.SIGTSTP)  # Ctrl-Z now: held, this process runs on
print(fork.pid, flush=True)
forwarder.started(fork.pid)  # the server's answer: the fork stops, then this process
state = [l.split()[1] for l in open(f"/proc/{fork.pid}/status") if l.startswith("State:")][0]
print(state, flush=True)
fork.kill()
"""


def test_ctrl_z_before_the_fork_is_named_stops_both_once_it_is():
    """A Ctrl-Z between the request and the server's answer used to stop the client alone, the fork running on
    while the shell showed the job stopped."""
    proc = subprocess.Popen([sys.executable, "-c", SUSPENDED_EARLY], stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout is not None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, f"the client stopped at once, before the fork was known (state {_state(proc.pid)})"
        fork = int(proc.stdout.readline())
    except BaseException:
        proc.kill()
        raise
    _wait_state(fork, "T")
    _wait_state(proc.pid, "T")
    proc.send_signal(signal.SIGCONT)  # fg
    assert proc.stdout.readline().strip() in ("S", "R")  # continued with it
    assert proc.wait(timeout=30) == 0


def test_a_killed_client_stops_its_fork(served, project):
    proc = _start_watch(served, project)
    fork = _fork_of_watch(served)
    proc.kill()  # no chance to forward anything: the server sees the connection close
    proc.wait()
    _wait_for(served.log, rf"pid {fork}: exit 143", 30)  # SIGTERM, handled by the CLI as "terminated"
    assert not _alive(fork)


def test_a_fork_killed_by_a_signal_kills_its_client_alike(served, project):
    proc = _start_watch(served, project)
    os.kill(_fork_of_watch(served), signal.SIGKILL)  # the kernel's OOM killer, say
    assert proc.wait(timeout=30) == -signal.SIGKILL  # as the shell would have seen the command die


def test_a_replaced_socket_lets_the_running_command_finish(served, project):
    proc = _start_watch(served, project)
    fork = _fork_of_watch(served)
    (socket_file,) = (served.run_dir / "mixbuild").glob("*.sock")
    socket_file.unlink()  # tmpfiles cleaning the folder, or a new server taking the name
    _wait_for(served.log, r"taking no new command, 1 still running", 30)
    assert proc.poll() is None and _alive(fork)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "stopped watching" in out
    assert served.proc.wait(timeout=30) == 0 and "stopped: " in served.log.read_text()


def test_a_closed_stream_runs_the_command_itself(served):
    here = subprocess.run([*LAUNCH, "--version"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=60, cwd=REPO, env=_env(served.run_dir),
                          preexec_fn=lambda: os.close(0))  # the socket would take fd 0 and be sent as stdin
    assert here.returncode == 0 and here.stdout.startswith("mixbuild ")
    assert served.forks() == []


def test_another_environment_or_install_runs_the_command_itself(served, project):
    assert served.run("--version").returncode == 0 and len(served.forks()) == 1  # this client is served
    # BLAS threads are fixed when numpy loads: a fork would keep the server's, so this client runs its own
    other = served.run("build", project.path, "-j", "1", OPENBLAS_NUM_THREADS="2")
    assert other.returncode == 0, other.stderr
    # a fork would write with the server's umask: another one runs the command itself too
    masked = subprocess.run([*LAUNCH, "--version"], capture_output=True, text=True, timeout=60, cwd=REPO,
                            env=_env(served.run_dir), preexec_fn=lambda: os.umask(0o027))
    assert masked.returncode == 0 and masked.stdout.startswith("mixbuild ")
    assert len(served.forks()) == 1
    default = launch.server_key(_env(served.run_dir))
    assert launch.server_key(_env(served.run_dir, OPENBLAS_NUM_THREADS="1")) == default  # the CLI's own default
    assert launch.server_key(_env(served.run_dir, NUMBA_CACHE_DIR="/elsewhere")) != default


def test_a_second_server_is_refused(served):
    again = served.run("serve")
    assert again.returncode == 1
    assert again.stderr.count("\n") == 1 and "already serves" in again.stderr


def test_key_follows_every_source_file(tmp_path):
    (tmp_path / "pkg").mkdir()
    source = tmp_path / "pkg" / "module.py"
    source.write_text("x = 1\n")
    roots = (tmp_path / "pkg",)
    before = launch.server_key({}, roots)
    os.utime(source, ns=(0, source.stat().st_mtime_ns + 1_000_000_000))
    assert launch.server_key({}, roots) != before


def test_a_shared_socket_folder_is_not_trusted(project):
    run_dir = _short_dir()
    try:
        (run_dir / "mixbuild").mkdir(mode=0o755)
        os.chmod(run_dir / "mixbuild", 0o755)  # others may plant a socket here
        environment = _env(run_dir)
        assert launch.server_folder(environment) is None
        planted = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # under the very name a client would use
        planted.bind(str(run_dir / "mixbuild" / f"{launch.server_key(environment)}.sock"))
        planted.listen(8)
        planted.setblocking(False)
        serve = subprocess.run([*LAUNCH, "serve"], capture_output=True, text=True, timeout=120, cwd=REPO,
                               env=environment)
        assert serve.returncode == 1 and serve.stderr.count("\n") == 1 and "mode 0700" in serve.stderr
        build = subprocess.run([*LAUNCH, "build", str(project.path), "-j", "1"], capture_output=True, text=True,
                               timeout=300, cwd=REPO, env=environment)
        assert build.returncode == 0, build.stderr  # built here
        with pytest.raises(BlockingIOError):
            planted.accept()  # nobody connected to the planted socket
        planted.close()
    finally:
        shutil.rmtree(run_dir)


def test_an_idle_server_stops_and_removes_its_socket(tmp_path):
    server = Served(tmp_path, idle_minutes=0.02)
    try:
        assert server.proc.wait(timeout=60) == 0
        assert "stopped: idle" in server.log.read_text()
        assert not list((server.run_dir / "mixbuild").glob("*.sock"))
    finally:
        server.stop()
