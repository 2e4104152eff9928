"""One build delivers into an out folder at a time: an advisory lock on `<out>/.mixbuild.lock`, whose text names
its holder, so a second build into the same folder waits (and says for whom) instead of mixing its files with
the first's. POSIX `flock`; where the platform has none, builds are not serialised."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".mixbuild.lock"
"""The lock file in the out folder: mixbuild's own, never a deliverable."""


@contextmanager
def out_folder_lock(out: Path, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold `out`'s lock for the block (made if need be); when another build holds it, tell `on_wait` who,
    then wait for it. The lock file is opened without following a link, so it is never written through one."""
    out.mkdir(parents=True, exist_ok=True)
    if sys.platform == "win32":  # no flock there: builds into one folder are not serialised
        yield
        return
    import fcntl

    fd = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another build"
            if on_wait is not None:
                on_wait(f"waiting for {holder}, which is delivering into {out}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"the build of pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
