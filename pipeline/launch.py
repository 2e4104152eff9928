"""The `mixbuild` command's entry: the command runs in a fork of a `mixbuild serve` process where one serves
this install, else in this process.

A fresh process spends about 1 s before and inside its first node on imports and numba's start (a one-stem
tweak of a 4-minute song: 5.2 s from a fresh process, 4.1 s forked from a warm one, medians of 5 alternating);
a server pays them once. The fork is a new process with this one's arguments, working directory, environment
and standard streams (passed over the socket), so the command behaves exactly as it would here: its output,
its exit status, Ctrl-C. This module imports nothing of the engine: without a server, `--help` stays fast.

A server serves only a client of the same install and start-up environment (`server_key`): another checkout,
an edited source file, a package installed since, or a different NUMBA_*/OPENBLAS_*/PYTHONPATH finds no
server and runs here. `MIXBUILD_NO_SERVER=1` runs here regardless.
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
START_ENV_PREFIXES = ("NUMBA_", "OPENBLAS_", "OMP_", "MKL_", "MALLOC_", "NUMPY_", "PYTHON", "LD_", "LANG", "LC_")
"""Variables read as a process starts or imports its libraries (numba, BLAS, glibc's allocator, the
interpreter, the locale of its streams): a forked command would keep the server's, so they are part of the key."""
UNKEYED_ENV = frozenset({"PYTHONWARNINGS"})
"""Start-up variables the CLI itself rewrites for the processes it starts (warnings only): not keyed."""
SOURCE_ROOTS = (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "stages",
                Path(__file__).resolve().parent.parent / "mixbuild")
"""The engine, the stages and the package's own files: a change to any file under them is a new key."""
PACKAGE_FOLDERS = frozenset({"site-packages", "dist-packages"})
"""The folders on sys.path that installs change (a source checkout's folder changes with every edit)."""
REQUEST_HEADER = struct.Struct(">I")
"""The request's length, before its JSON."""
STREAMS = (0, 1, 2)


def _source_signature(roots: tuple[Path, ...]) -> list[str]:
    """Every file under `roots` (sorted), by path, size and modification time: a few hundred stats."""
    rows = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                st = os.stat(os.path.join(folder, name))
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
    digest.update(json.dumps([keyed_environment(env), process_attributes()]).encode())
    return digest.hexdigest()[:24]


def process_attributes() -> list[Any]:
    """What a fork inherits from its server rather than from the command's caller, beyond the environment:
    the umask (the modes of what it writes), CPU affinity (`taskset`), priority (`nice`), resource limits
    (`ulimit`) and control group (a memory limit)."""
    import resource

    mask = os.umask(0)
    os.umask(mask)
    limits = {name: resource.getrlimit(getattr(resource, name)) for name in sorted(dir(resource))
              if name.startswith("RLIMIT_")}
    try:
        with open("/proc/self/cgroup") as groups:
            cgroup = groups.read()
    except OSError:
        cgroup = ""
    return [mask, sorted(os.sched_getaffinity(0)), os.getpriority(os.PRIO_PROCESS, 0), limits, cgroup]


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


def socket_path(env: Mapping[str, str], create: bool = False) -> Path | None:
    """Where the server of this install and environment listens (None: no private folder for it)."""
    folder = server_folder(env, create)
    return None if folder is None else folder / f"{server_key(env)}.sock"


def served(path: Path, argv: list[str]) -> int | None:
    """Run the command in a fork of the server at `path` and return its exit status; None where no server
    answers there (the caller runs the command itself)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
        payload = json.dumps({"argv0": sys.argv[0], "argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
        message = REQUEST_HEADER.pack(len(payload)) + payload
        sent = socket.send_fds(sock, [message], list(STREAMS))
        sock.sendall(message[sent:])
        reader = sock.makefile("rb")
        started = reader.readline()
    except OSError:  # no server (a stale socket, none), a closed standard stream, a deleted working directory
        sock.close()
        return None
    if not started:
        return None  # the server turned the request down (another user, a server stopping): run it here
    pid = int(json.loads(started)["pid"])
    return _wait(reader, pid)


FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Sent to this process (Ctrl-C is sent to the terminal's foreground process: this one), passed to the fork."""


def _wait(reader: Any, pid: int) -> int:
    """Forward signals to the fork `pid` until the server reports how it ended; a fork killed by a signal
    kills this process with the same one, as the shell would have seen it."""
    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, forward)
    line = reader.readline()
    if not line:
        print("mixbuild: the server stopped while it ran this command; run it again", file=sys.stderr)
        return 1
    ended = json.loads(line)
    if ended.get("signal"):
        signal.signal(ended["signal"], signal.SIG_DFL)
        os.kill(os.getpid(), ended["signal"])
    return int(ended["exit"])


def main() -> None:
    """Console entry point (`mixbuild`, `python -m mixbuild`)."""
    argv = sys.argv[1:]
    if sys.platform.startswith("linux") and not os.environ.get(NO_SERVER_ENV) and not LOCAL_COMMANDS & set(argv[:1]):
        path = socket_path(os.environ)
        code = None if path is None or not path.exists() else served(path, argv)
        if code is not None:
            sys.stdout.flush()
            os._exit(code)
    from .cli import main as run_here

    run_here()
