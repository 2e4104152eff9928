"""The `mixbuild` command's entry: the command runs in a fork of a `mixbuild serve` process where one serves
this install, else in this process.

A fresh process spends about 1 s before and inside its first node on imports and numba's start (a one-stem
tweak of a 4-minute song: 5.82 s from a fresh process, 4.54 s forked from a warm one, medians of 4 taking
turns, `bench_scale.py --seconds 240 --rebuilds served`); a server pays them once. The fork is a new process
with this one's arguments, working directory, environment and standard streams (passed over the socket), so
the command behaves exactly as it would here: its output, its exit status, Ctrl-C. This module imports nothing
of the engine: without a server, `--help` stays fast.

A server serves only a client of the same install and start-up environment (`server_key`): another checkout,
an edited source file, a package installed since, a different NUMBA_*/OPENBLAS_*/PYTHONPATH, umask, `nice`,
`taskset` or `ulimit` finds no server and runs here. `MIXBUILD_NO_SERVER=1` runs here regardless.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import stat
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping

NO_SERVER_ENV = "MIXBUILD_NO_SERVER"
LOCAL_COMMANDS = frozenset({"serve"})
"""Commands never sent to a server."""
LOCAL_OPTIONS = frozenset({"--install-completion", "--show-completion"})
"""Options that read this process's parent (the shell): never sent to a server."""
START_ENV_PREFIXES = ("NUMBA_", "OPENBLAS_", "OMP_", "MKL_", "MALLOC_", "NUMPY_", "PYTHON", "LD_", "LANG", "LC_",
                      "TZ")
"""Variables read as a process starts or imports its libraries (numba, BLAS, glibc's allocator, the
interpreter, the locale of its streams, the time zone): a forked command would keep the server's, so they are
part of the key."""
UNKEYED_ENV = frozenset({"PYTHONWARNINGS"})
"""A start-up variable the CLI rewrites for the processes it starts: keyed as the interpreter read it at its
start instead (sys.warnoptions)."""
SOURCE_ROOTS = (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "stages",
                Path(__file__).resolve().parent.parent / "mixbuild")
"""The engine, the stages and the package's own files: a change to any file under them is a new key."""
PACKAGE_FOLDERS = frozenset({"site-packages", "dist-packages"})
"""The folders on sys.path that installs change (a source checkout's folder changes with every edit)."""
REQUEST_HEADER = struct.Struct(">I")
"""The request's length, before its JSON."""
STREAMS = (0, 1, 2)


def _source_signature(roots: tuple[Path, ...]) -> list[str]:
    """Every file under `roots` (sorted), by path, size and modification time: a few hundred stats (a link
    by its own, so an editor's dangling lock link counts, and a file gone meanwhile as gone)."""
    rows = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                try:
                    st = os.lstat(os.path.join(folder, name))
                except OSError:
                    continue
                rows.append(f"{os.path.join(folder, name)}\0{st.st_size}\0{st.st_mtime_ns}")
    return rows


def keyed_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The start-up variables of `env` as the CLI's process set-up leaves them (its defaults where unset)."""
    from .process import tuned_defaults  # light: no engine

    tuned = {**tuned_defaults(), **env}
    return {k: v for k, v in sorted(tuned.items()) if k.startswith(START_ENV_PREFIXES) and k not in UNKEYED_ENV}


def server_key(env: Mapping[str, str], roots: tuple[Path, ...] = SOURCE_ROOTS) -> str:
    """What a server and its client must share: interpreter, sources, installed packages (their folders'
    modification times), start-up environment, the process's inherited attributes."""
    digest = hashlib.sha256()
    digest.update(f"{os.path.realpath(sys.executable)}\0{sys.version}\0{os.getuid()}\0".encode())
    for row in _source_signature(roots):
        digest.update(row.encode() + b"\n")
    for entry in sys.path:  # a package installed or removed changes its folder's time
        if os.path.basename(entry) not in PACKAGE_FOLDERS:
            continue
        try:
            digest.update(f"{entry}\0{os.stat(entry).st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{entry}\0-\n".encode())
    interpreter = [list(sys.flags), sys.warnoptions, sorted(map(str, sys._xoptions.items()))]
    digest.update(json.dumps([keyed_environment(env), interpreter, process_attributes()]).encode())
    return digest.hexdigest()[:24]


def process_attributes() -> list[Any]:
    """What a fork inherits from its server rather than from the command's caller, beyond the environment:
    the umask (the modes of what it writes), CPU affinity (`taskset`), priority (`nice`) and resource limits
    (`ulimit`). Not the control group: a desktop's terminal tabs are each a scope of their own, and a fork
    runs in the server's (MIXBUILD_NO_SERVER=1 for a command run under `systemd-run -p MemoryMax=...`)."""
    import resource

    mask = os.umask(0)
    os.umask(mask)
    limits = {name: resource.getrlimit(getattr(resource, name)) for name in sorted(dir(resource))
              if name.startswith("RLIMIT_")}
    return [mask, sorted(os.sched_getaffinity(0)), os.getpriority(os.PRIO_PROCESS, 0), limits]


def server_folder(env: Mapping[str, str], create: bool = False) -> Path | None:
    """This user's folder for servers' sockets ($XDG_RUNTIME_DIR/mixbuild, else mixbuild-<uid> in the temp
    folder), mode 0700; None where it is missing, or not this user's own and private (then nobody is trusted)."""
    base = env.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    folder = Path(base) / ("mixbuild" if env.get("XDG_RUNTIME_DIR") else f"mixbuild-{os.getuid()}")
    if create:
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
        except OSError:
            return None
    try:
        st = os.lstat(folder)
    except OSError:
        return None
    private = stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077
    return folder if private else None


def socket_path(env: Mapping[str, str], create: bool = False, key: str | None = None) -> Path | None:
    """Where the server of this install and environment (`key`, else `server_key(env)`) listens (None: no
    private folder for it)."""
    folder = server_folder(env, create)
    return None if folder is None else folder / f"{key or server_key(env)}.sock"


REPLY_TIMEOUT_S = 10.0
"""How long a client waits for a server to take its command (a stopped or stuck server: the client runs it)."""


def served(path: Path, argv: list[str]) -> int | None:
    """Run the command in a fork of the server at `path` and return its exit status; None where no server
    took it (the caller runs the command itself). Once the fork has started, it is the command: its status
    is returned whatever happens."""
    try:
        for fd in STREAMS:  # a closed one would be the socket's number, and the fork would write into it
            os.fstat(fd)
        payload = json.dumps({"argv0": sys.argv[0], "argv": argv, "cwd": os.getcwd(),
                              "env": dict(os.environ)}).encode()
    except OSError:  # a closed standard stream, a deleted working directory: the command says what it makes of it
        return None
    forwarder = _Forwarder()
    forwarder.install()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(REPLY_TIMEOUT_S)
    try:
        sock.connect(str(path))
        if peer_uid(sock) != os.getuid():  # only this user's own server sees the command and its terminal
            raise ConnectionRefusedError
        message = REQUEST_HEADER.pack(len(payload)) + payload
        sent = socket.send_fds(sock, [message], list(STREAMS))
        sock.sendall(message[sent:])
        reader = sock.makefile("rb")
        started = reader.readline()
    except OSError:  # no server (a stale socket, none), or none that answered in time
        sock.close()
        forwarder.uninstall()
        return None
    if not started:
        forwarder.uninstall()
        return None  # the server turned the request down (a server stopping): run it here
    sock.settimeout(None)
    forwarder.started(int(json.loads(started)["pid"]))
    return _ended(reader)


def peer_uid(sock: socket.socket) -> int:
    """The user of the process at the other end of a connected Unix socket (SO_PEERCRED)."""
    ucred = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEER_CREDENTIALS.size)
    return int(PEER_CREDENTIALS.unpack(ucred)[1])


PEER_CREDENTIALS = struct.Struct("3i")
"""struct ucred: pid, uid, gid."""
FORWARDED_SIGNALS: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
"""Sent to this process (Ctrl-C is sent to the terminal's foreground process: this one), passed to the fork."""


class _Forwarder:
    """Passes this process's signals to the fork: held until its pid is known, sent on after. Ctrl-Z stops the
    fork, then this process (the shell's job), once the fork is known; `fg` continues both."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.pending: list[int] = []

    def install(self) -> None:
        for signum in FORWARDED_SIGNALS:
            signal.signal(signum, self._forward)
        signal.signal(signal.SIGTSTP, self._suspend)

    def uninstall(self) -> None:
        for signum in (*FORWARDED_SIGNALS, int(signal.SIGTSTP)):
            signal.signal(signum, signal.SIG_DFL)
        for signum in self.pending:  # arrived before any server took the command: this process gets them
            os.kill(os.getpid(), signum)

    def started(self, pid: int) -> None:
        self.pid = pid
        pending, self.pending = self.pending, []
        for signum in pending:
            if signum == signal.SIGTSTP:
                self._suspend(signum, None)
            else:
                _send(pid, signum)

    def _forward(self, signum: int, _frame: object) -> None:
        if self.pid is None:
            self.pending.append(signum)
        else:
            _send(self.pid, signum)

    def _suspend(self, signum: int, _frame: object) -> None:
        if self.pid is None:  # Ctrl-Z before the server named the fork: both stop once it has (`started`)
            self.pending.append(signum)
            return
        _send(self.pid, signal.SIGSTOP)
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)  # stopped here until continued
        signal.signal(signal.SIGTSTP, self._suspend)
        _send(self.pid, signal.SIGCONT)


def _send(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _ended(reader: Any) -> int:
    """The fork's exit status once the server reports it; a fork killed by a signal kills this process with
    the same one where it can (as the shell would have seen the command end), else 128 + its number."""
    try:
        line = reader.readline()
        ended = json.loads(line) if line else None
    except (OSError, ValueError):
        ended = None
    if ended is None:
        print("mixbuild: the server stopped while it ran this command (its fork was stopped with it); run it "
              "again", file=sys.stderr)
        return 1
    killed = ended.get("signal")
    if killed:
        if killed not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(killed, signal.SIG_DFL)
        os.kill(os.getpid(), killed)
    return int(ended["exit"])


def runs_here(argv: list[str]) -> bool:
    """Whether this command runs in this process whatever serves: `serve` itself, shell completion (it reads
    the parent process: the shell), or not Linux, or MIXBUILD_NO_SERVER set."""
    return (not sys.platform.startswith("linux") or bool(os.environ.get(NO_SERVER_ENV))
            or bool(LOCAL_COMMANDS & set(argv[:1])) or bool(LOCAL_OPTIONS & set(argv)))


def main() -> None:
    """Console entry point (`mixbuild`, `python -m mixbuild`)."""
    argv = sys.argv[1:]
    if not runs_here(argv):
        try:
            path = socket_path(os.environ)
        except OSError:  # a source file gone while we looked: no key, so no server
            path = None
        code = None if path is None or not path.exists() else served(path, argv)
        if code is not None:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            os._exit(code)
    from .cli import main as run_here

    run_here()
