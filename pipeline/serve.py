"""`mixbuild serve`: one warm process that each `mixbuild` command of this install runs in a fork of.

The server imports the engine and the stages, loads every compiled kernel (numba's start included), then
waits on a Unix socket in the user's private folder (`launch.socket_path`). For each command a client sends,
it forks: the fork takes the client's standard streams (passed as file descriptors), working directory,
environment and arguments, and runs the CLI's `main` as a fresh process would after its imports. The server
reports how the fork ended; a client that goes away (killed, its terminal closed) has its fork stopped with
SIGTERM, as the command would have stopped with it.

It stops on Ctrl-C or SIGTERM (its running forks stopped too), after `idle_s` with no command running, and
once its key no longer matches (a source file edited, a package installed) or its socket is gone: it takes no
new command (a client would no longer find it: stale code serves nobody) and stops when the running ones end.
Forks share the server's memory copy-on-write; each is a process of its own, so builds from several terminals
run side by side as they would without the server. Linux only (fork after loading numba and the BLAS is
unsafe on macOS).
"""

from __future__ import annotations

import gc
import importlib
import io
import json
import os
import pkgutil
import resource
import selectors
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from .launch import REQUEST_HEADER, STREAMS, peer_uid, server_key, socket_path

STALE_CHECK_S = 2.0
"""How often the server compares its key with the sources' and the environment's."""
STOP_WAIT_S = 10.0
"""How long a stopping server waits for its forks to stop, to tell their clients."""
REQUEST_TIMEOUT_S = 5.0
"""A client has this long to send its request once connected."""
MAX_REQUEST_BYTES = 16 << 20
"""A request is arguments and an environment: kilobytes; anything near this is not one."""
SOCKET_PATH_MAX_BYTES = 107
"""sockaddr_un's sun_path holds 108 bytes, its terminating NUL included (Linux)."""
SKIPPED_MODULES = ("__main__", "demo_stems")
"""Modules not preloaded: entry points, and the demo's synthesis (scipy.signal: 0.6 s, for `demo` only)."""


class ServeError(RuntimeError):
    """The server cannot start: one line."""


def preload() -> None:
    """Import every module a command may need and run each compiled kernel once, so that a fork starts warm."""
    from mixbuild import pipeline, stages
    from mixbuild.pipeline.cli.build import compile_kernels_if_cold
    from mixbuild.stages.dsp.warmup import warm_up

    for package in (pipeline, stages):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not module.name.endswith(SKIPPED_MODULES):
                importlib.import_module(module.name)
    compile_kernels_if_cold()
    warm_up()
    gc.collect()
    gc.freeze()  # the preloaded objects stay out of the forks' collections: their pages stay shared


def _request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """The client's request and its standard streams' descriptors; OSError/ValueError when it is not one."""
    conn.settimeout(REQUEST_TIMEOUT_S)
    data, fds, _, _ = socket.recv_fds(conn, 1 << 16, len(STREAMS))
    try:
        if len(fds) != len(STREAMS) or len(data) < REQUEST_HEADER.size:
            raise ValueError("not a request")
        (length,) = REQUEST_HEADER.unpack(data[:REQUEST_HEADER.size])
        if length > MAX_REQUEST_BYTES:
            raise ValueError("request too large")
        body = bytearray(data[REQUEST_HEADER.size:])
        while len(body) < length:
            chunk = conn.recv(length - len(body))
            if not chunk:
                raise ValueError("request cut short")
            body += chunk
        request = json.loads(body)
        if not isinstance(request, dict) or not isinstance(request.get("argv"), list) \
                or not isinstance(request.get("env"), dict) or not isinstance(request.get("cwd", ""), str):
            raise ValueError("not a request")
        conn.settimeout(None)
        return request, fds
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise


PR_SET_PDEATHSIG = 1
"""prctl(2): the signal this process gets when its parent ends."""


def _die_with(server: int) -> None:
    """A fork whose server dies (killed, or gone before this line) stops as by SIGTERM: no orphaned command
    runs on while its client has been told the server stopped."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
    if os.getppid() != server:
        os._exit(128 + signal.SIGTERM)


def _run_fork(request: dict[str, Any], fds: list[int], close_inherited: Callable[[], None], server: int) -> None:
    """In the fork: become the client's command (streams, folder, environment, arguments) and run the CLI."""
    code = 1
    try:
        _die_with(server)
        os.setpgid(0, 0)  # the server's terminal's Ctrl-C is not this command's: its client forwards its own
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        close_inherited()  # the server's socket, its wake-up pipe, the clients' connections
        for target, fd in zip(STREAMS, fds):
            os.dup2(fd, target)
        for fd in set(fds) - set(STREAMS):
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # scratch files go to the command's TMPDIR, not the one the server looked up
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, io.TextIOWrapper):  # buffered by line on a terminal, as Python starts it there
                stream.reconfigure(line_buffering=stream.isatty())
        for name, fd, mode in (("stdin", 0, "r"), ("stdout", 1, "w"), ("stderr", 2, "w")):
            if getattr(sys, name) is None:  # the server started with it closed: the command's is open
                setattr(sys, name, open(fd, mode, closefd=False, buffering=1 if mode == "w" else -1))
        sys.argv = [str(request.get("argv0") or "mixbuild"), *request["argv"]]
        from .cli import main

        main()  # ends the process (os._exit) with the command's status
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    except BaseException as err:  # noqa: BLE001 - one line, as the CLI's own last line of defence says it
        try:
            os.write(2, f"mixbuild: internal error: {type(err).__name__}: {err}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(code)


class Server:
    """The accept loop: one fork per request, each fork's end reported to its client."""

    def __init__(self, path: Path, key: str, env: dict[str, str], idle_s: float, log: Callable[[str], None]):
        self.path, self.key, self.env, self.idle_s, self.log = path, key, env, idle_s, log
        self.forks: dict[int, socket.socket] = {}
        self.selector = selectors.DefaultSelector()

    def run(self) -> str:
        """Serve until idle, stale or stopped; returns why it stopped. Stale (its key changed, its socket
        replaced), it takes no new command but lets the running ones finish; stopped (Ctrl-C, SIGTERM), it
        stops them too."""
        listener = self._listen()
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        os.set_blocking(wake_read, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wake-up fd is written
        signal.set_wakeup_fd(wake_write)
        self.selector.register(listener, selectors.EVENT_READ, "accept")
        self.selector.register(wake_read, selectors.EVENT_READ, "wake")
        inode = os.stat(self.path).st_ino
        idle_since = time.monotonic()
        closing = ""
        try:
            while True:
                for selected, _ in self.selector.select(STALE_CHECK_S):
                    if selected.data == "accept":
                        self._accept(listener, (wake_read, wake_write))
                    elif selected.data == "wake":
                        os.read(wake_read, 4096)
                    elif isinstance(selected.data, int):  # a client hung up while its fork runs: stop the fork
                        self._hang_up(selected.data)
                self._reap()
                if self.forks:
                    idle_since = time.monotonic()
                elif closing:
                    return closing
                elif time.monotonic() - idle_since > self.idle_s:
                    return f"idle for {self.idle_s / 60:g} minutes"
                if not closing:
                    closing = self._stale(inode)
                    if closing:  # no new command; the running ones finish
                        self.selector.unregister(listener)
                        listener.close()
                        if self.forks:
                            self.log(f"{closing}: taking no new command, {len(self.forks)} still running")
        finally:
            if _inode(self.path) == inode:
                self.path.unlink(missing_ok=True)
            listener.close()  # once closed, closing again does nothing
            self._stop_forks()
            signal.set_wakeup_fd(-1)
            os.close(wake_read)
            os.close(wake_write)

    def _stale(self, inode: int | None) -> str:
        """Why this server may no longer take commands ('' while it may)."""
        try:
            if server_key(self.env) != self.key:
                return "mixbuild's sources or packages changed (a new server serves them)"
        except OSError:
            return "mixbuild's sources changed while they were read"
        if _inode(self.path) != inode:
            return f"{self.path} was replaced or removed"
        return ""

    def _listen(self) -> socket.socket:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        staged = self.path.with_name(f".{os.getpid()}.staged")
        staged.unlink(missing_ok=True)
        listener.bind(str(staged))
        listener.listen(64)
        os.replace(staged, self.path)  # a client finds either the old socket or this one, never none
        return listener

    def _accept(self, listener: socket.socket, pipe: tuple[int, int]) -> None:
        """Take one connection: a ping is answered, a command forked; a bad one is turned down, never fatal."""
        try:
            conn, _ = listener.accept()
        except OSError as err:  # out of descriptors, a client gone already
            self.log(f"could not take a connection: {err}")
            return
        try:
            if peer_uid(conn) != os.getuid():
                raise ValueError("another user")
            request, fds = _request(conn)
        except (OSError, ValueError) as err:
            self.log(f"turned a connection down: {err}")
            conn.close()
            return
        if request.get("ping"):
            for fd in fds:
                os.close(fd)
            try:
                conn.sendall(json.dumps({"pid": os.getpid(), "serving": True}).encode() + b"\n")
            except OSError:
                pass
            conn.close()
            return
        try:
            self._fork(listener, conn, request, fds, pipe)
        except OSError as err:  # fork refused (no memory, no process slot): the client runs the command itself
            self.log(f"could not fork: {err}")
            conn.close()
        finally:
            for fd in fds:
                os.close(fd)

    def _fork(self, listener: socket.socket, conn: socket.socket, request: dict[str, Any], fds: list[int],
              pipe: tuple[int, int]) -> None:
        if _hung_up(conn):  # it gave up waiting (this server was stopped, say) and ran the command itself
            conn.close()
            return
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()

        def close_inherited() -> None:
            for sock in (listener, conn, *self.forks.values()):
                sock.close()
            self.selector.close()
            for fd in pipe:
                os.close(fd)

        server = os.getpid()
        pid = os.fork()
        if pid == 0:
            _run_fork(request, fds, close_inherited, server)
        self.forks[pid] = conn
        try:
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            self.selector.register(conn, selectors.EVENT_READ, pid)
        except OSError:
            self._hang_up(pid)
        self.log(f"pid {pid}: mixbuild {' '.join(map(str, request['argv']))} (in {request.get('cwd')})")

    def _hang_up(self, pid: int) -> None:
        conn = self.forks.get(pid)
        if conn is None:
            return
        try:
            self.selector.unregister(conn)
        except KeyError:
            pass  # hung up before
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    def _stop_forks(self) -> None:
        """The server is stopping: its forks stop too (SIGTERM: each says so on its client's stream), and
        their clients hear how they ended."""
        for pid in list(self.forks):
            self._hang_up(pid)
        deadline = time.monotonic() + STOP_WAIT_S
        while self.forks and time.monotonic() < deadline:
            time.sleep(0.05)
            self._reap()
        for conn in self.forks.values():
            conn.close()

    def _reap(self) -> None:
        while self.forks:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.forks.pop(pid, None)
            if conn is None:
                continue
            killed = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
            code = 128 + killed if killed else os.waitstatus_to_exitcode(status)
            self.log(f"pid {pid}: exit {code} ({_spent(usage)})")
            try:
                self.selector.unregister(conn)
            except KeyError:
                pass  # unregistered when its client hung up
            try:
                conn.sendall(json.dumps({"exit": code, "signal": killed}).encode() + b"\n")
            except OSError:
                pass
            conn.close()


def _spent(usage: resource.struct_rusage) -> str:
    """What a fork cost, for the server's log: its CPU time, its page faults (memory it touched first, and its
    copies of the server's pages) and its peak resident memory (the server's pages it shares counted)."""
    return (f"user {usage.ru_utime:.2f} s, system {usage.ru_stime:.2f} s, {usage.ru_minflt} page faults, "
            f"peak {usage.ru_maxrss / 1024:.0f} MB")  # Linux gives ru_maxrss in KiB


def _hung_up(conn: socket.socket) -> bool:
    """Whether the client closed its end (nothing more to read, ever)."""
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def ping(path: Path) -> int | None:
    """The pid of the server answering at `path`, or None."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(REQUEST_TIMEOUT_S)
    try:
        sock.connect(str(path))
        payload = json.dumps({"ping": True, "argv": [], "env": {}}).encode()
        socket.send_fds(sock, [REQUEST_HEADER.pack(len(payload)) + payload], list(STREAMS))
        answer = sock.makefile("rb").readline()
        return int(json.loads(answer)["pid"]) if answer else None
    except (OSError, ValueError, KeyError):
        return None
    finally:
        sock.close()


def serve(idle_s: float, log: Callable[[str], None]) -> str:
    """Serve this install's commands in this process's environment; returns why it stopped."""
    if not sys.platform.startswith("linux"):
        raise ServeError("serve runs on Linux only (a fork of a process that loaded numba is unsafe elsewhere)")
    env = dict(os.environ)
    key = server_key(env)  # once: an edit while loading makes a stale server at once, not one under a new key
    path = socket_path(env, create=True, key=key)
    if path is None:
        raise ServeError("no private folder for the server's socket ($XDG_RUNTIME_DIR/mixbuild, or mixbuild-<uid> in "
                         "the temp folder, must be yours and mode 0700)")
    if len(os.fsencode(path)) > SOCKET_PATH_MAX_BYTES:
        raise ServeError(f"{path}: too long for a Unix socket ({SOCKET_PATH_MAX_BYTES} bytes at most); set "
                         "XDG_RUNTIME_DIR to a shorter folder")
    running = ping(path) if path.exists() else None
    if running is not None:
        raise ServeError(f"a server for this install already serves at {path} (pid {running})")
    started = time.perf_counter()
    preload()
    threads = len(os.listdir("/proc/self/task"))  # native ones too (a BLAS or OpenMP pool): a fork copies one
    if threads != 1:
        raise ServeError(f"{threads - 1} threads started while loading; cannot fork safely")
    log(f"serving at {path} (loaded in {time.perf_counter() - started:.1f} s); `mixbuild` commands of this "
        "install now run here (Ctrl-C stops)")
    return Server(path, key, env, idle_s, log).run()
