"""Build leases: a running build's claim that prune keeps every object it may use.

A build takes ``with cache.lease():`` before it checks any action; prune never
deletes an object whose mtime is at or after the start of the oldest live lease
(minus LEASE_SLACK_NS). A lease is live while its pid runs on this host; a lease
from another host (a shared cache) is live for FOREIGN_LEASE_TTL_S. Stale leases
(dead pid, expired, garbage) are removed by prune. A lease's start is its file's
mtime, the same clock as the objects' mtimes.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mixbuild.pipeline.atomic import atomic_write_json, is_temp_name, pid_alive, process_start

from .layout import files, read_only, unlink_quietly

LEASE_SLACK_NS = 2_000_000_000
"""Objects touched up to 2 s before the oldest live lease started are kept too (clock steps)."""
FOREIGN_LEASE_TTL_S = 24 * 3600
"""A lease written on another host cannot be checked by pid; it counts as live this long."""


@dataclass(frozen=True)
class Lease:
    """A running build's claim on the cache."""

    path: Path
    pid: int
    host: str
    start_ns: int  # the lease file's mtime: the same clock as the objects' mtimes


@contextlib.contextmanager
def hold_lease(leases_dir: Path) -> Iterator[Lease | None]:
    """Write a lease file for this process for the duration of the block; None in a cache this process may
    not write (it cannot prune it either, and a reader's object pruned by its owner fails the copy, never
    serves other audio)."""
    pid, host = os.getpid(), socket.gethostname()
    path = leases_dir / f"{pid}-{secrets.token_hex(6)}.json"
    try:
        atomic_write_json(path, {"pid": pid, "host": host, "start": time.time(), "process_start": process_start(pid)},
                          fsync=False)
    except OSError as exc:
        if not read_only(exc):
            raise
        yield None
        return
    try:
        yield Lease(path, pid, host, os.stat(path).st_mtime_ns)
    finally:
        unlink_quietly(path)


def _live_lease(path: Path, host: str, now_ns: int) -> Lease | None:
    """The lease in ``path`` if it is live, None if stale. FileNotFoundError if released meanwhile."""
    try:
        st = os.stat(path)
        info = json.loads(path.read_bytes())
        pid, lease_host = int(info["pid"]), str(info["host"])
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if lease_host == host:  # the writer runs while its pid does, started when it recorded (pid reuse)
        recorded = info.get("process_start")
        alive = pid_alive(pid) and (not isinstance(recorded, int) or process_start(pid) in (recorded, None))
    else:
        alive = now_ns - st.st_mtime_ns < FOREIGN_LEASE_TTL_S * 1_000_000_000
    return Lease(path, pid, lease_host, st.st_mtime_ns) if alive else None


def scan_leases(leases_dir: Path, *, remove_stale: bool = False) -> tuple[list[Lease], list[Path]]:
    """(live leases, stale lease files); stale ones are deleted if ``remove_stale``."""
    live: list[Lease] = []
    stale: list[Path] = []
    host = socket.gethostname()
    now_ns = time.time_ns()
    for path in files(leases_dir):
        if is_temp_name(path.name):
            continue
        try:
            lease = _live_lease(path, host, now_ns)
        except FileNotFoundError:
            continue
        if lease is None:
            stale.append(path)
        else:
            live.append(lease)
    if remove_stale:
        for path in stale:
            unlink_quietly(path)
    return live, stale


def protected_since_ns(live: list[Lease]) -> int | None:
    """Objects with an mtime at or after this may be in use by a live build (None: no build runs)."""
    return min(lease.start_ns for lease in live) - LEASE_SLACK_NS if live else None
