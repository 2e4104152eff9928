"""Crash-safe file writes: temp file in the target's directory, fsync, os.replace.

A reader never sees a half-written file: it sees the old file, or the whole new
one. Two processes writing the same path both succeed and the last replace wins,
so writers of identical content (the cache's objects) always leave a valid file.
On any exception the temp file is removed, the target is left untouched and the
exception propagates.

Temp names are ``.<name>.<pid>-<random>.tmp<suffix>``: hidden, unique per
process and call, and they keep the target's suffix so writers that pick a format
from the file name (soundfile) still work. ``is_temp_name`` recognises them so
that cache scans can skip (and prune can sweep) leftovers of a killed process;
``sweep_stale_temps`` removes those whose writer (by pid, on this host) is gone.
An OSError from a write names the target path (a full disk must say where).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mixbuild.stages.npyfile import SparseWriter

__all__ = [
    "atomic_path",
    "atomic_save_npy",
    "atomic_write_bytes",
    "atomic_write_json",
    "fsync_dir",
    "is_temp_name",
    "new_temp_file",
    "process_start",
    "sweep_stale_temps",
]

_TMP_MARK = ".tmp"


def _temp_path(target: Path) -> Path:
    token = f"{os.getpid()}-{secrets.token_hex(6)}"
    return target.with_name(f".{target.name}.{token}{_TMP_MARK}{target.suffix}")


def new_temp_file(target: Path) -> Path:
    """Create an empty temp file named for ``target`` (O_EXCL), for a writer that hands its path on; it is
    swept like any temp file once its process is gone."""
    tmp = _temp_path(target)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    return tmp


def is_temp_name(name: str) -> bool:
    """True for a file name made by this module's temp naming (a leftover if old)."""
    return name.startswith(".") and _TMP_MARK in name


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """fsync a directory so a rename in it survives a power cut (no-op where unsupported)."""
    if os.name == "nt":  # directories cannot be opened for fsync on Windows
        return
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems (and some network mounts) refuse it
        pass
    finally:
        os.close(fd)


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


_TEMP_PID = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]{12}\.tmp")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (one owned by another user counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), so that a pid reused by another
    process is told apart from the one that wrote a lease; None where /proc has no such process or none
    at all (then the pid alone decides)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2:].split()[19])  # field 22, counted after the command name
    except (OSError, ValueError, IndexError):
        return None


def sweep_stale_temps(directory: str | os.PathLike[str]) -> int:
    """Remove temp files in ``directory`` (not recursive) left by writers that no longer run
    on this host (a killed build); return how many. A live writer's temp file is kept."""
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for entry in entries:
        match = _TEMP_PID.match(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False) or pid_alive(int(match["pid"])):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed += 1
    return removed


_NO_ROOM = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _name_path(exc: OSError, target: Path) -> OSError:
    """``exc`` with the target's path as its filename, so "disk full" says where (a bare
    ENOSPC from a buffered write carries no file name, and shutil.copyfile's names its *source*)."""
    if exc.filename is not None and (exc.errno not in _NO_ROOM or exc.filename == str(target)):
        return exc
    named = OSError(exc.errno, exc.strerror or str(exc), str(target))
    named.__cause__ = exc
    return named


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temp path next to ``path``; on clean exit fsync it and replace ``path``.

    For writers that need a file name (``soundfile.write(tmp, ...)``). The parent
    directory is created if needed. If the body raises, the temp file is removed
    and the exception re-raised; ``path`` is not touched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(target)
    try:
        yield tmp
        if fsync:
            fd = os.open(tmp, os.O_RDONLY)  # POSIX allows fsync on a read-only fd
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, target)
    except OSError as exc:
        _remove_quietly(tmp)
        raise _name_path(exc, target)
    except BaseException:
        _remove_quietly(tmp)
        raise
    if fsync:
        fsync_dir(target.parent)


@contextlib.contextmanager
def _atomic_open(path: str | os.PathLike[str], *, fsync: bool) -> Iterator[Any]:
    """Open a fresh temp file for binary writing; replace ``path`` on clean exit (via atomic_path)."""
    with atomic_path(path, fsync=fsync) as tmp:
        # O_EXCL: never write into someone else's file; 0o666 honours the umask, so a
        # shared cache keeps group permissions (mkstemp would force 0o600).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as fh:
            yield fh


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically."""
    with _atomic_open(path, fsync=fsync) as fh:
        fh.write(data)


def atomic_write_json(path: str | os.PathLike[str], obj: Any, *, fsync: bool = True) -> None:
    """Write ``obj`` as JSON (sorted keys, UTF-8, NaN rejected) to ``path`` atomically."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, allow_nan=False, indent=1)
    atomic_write_bytes(path, (text + "\n").encode("utf-8"), fsync=fsync)


def atomic_save_npy(path: str | os.PathLike[str], arr: np.ndarray, *, fsync: bool = True) -> None:
    """``np.save`` ``arr`` to ``path`` atomically (no pickles: object arrays are refused).

    Aligned 64 KiB runs of zeros are left as holes (`stages.npyfile.SparseWriter`): silence costs no disk
    where the file system keeps holes, and reads back as zeros, memory-mapped as before."""
    with _atomic_open(path, fsync=fsync) as fh:
        # through a plain writer, not the real file object: given a real file numpy uses
        # ndarray.tofile, whose failure on a full disk is an errno-less "N requested and
        # M written"; fh.write raises the real OSError (ENOSPC, EFBIG). Same bytes either way.
        writer = SparseWriter(fh)
        np.save(writer, arr, allow_pickle=False)
        writer.close()
