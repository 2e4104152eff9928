"""Replace a folder's contents in one step, so that a reader sees the old set of files or the new one, never a mix.

The new contents are assembled in a hidden sibling folder (`.<name>.mixbuild-next`): files kept from the old
folder are hard links (a copy where the file system has none), new files are written there, and the two
folders are then exchanged by one `renameat2(RENAME_EXCHANGE)` (Linux) or `renamex_np(RENAME_SWAP)` (macOS).
Where the file system cannot exchange, the old folder is renamed aside first and the new one put in its place:
a kill between the two renames leaves the folder briefly absent (restored by the next `settle`), never mixed.

Afterwards the sibling holds the old contents, and `settle` empties it without losing anything that is not
elsewhere: a name the folder now holds, or one the old manifest listed (a stale deliverable), is removed; any
other entry (a file the user saved into the folder while the build ran) is moved back. The same `settle`
cleans up after a build killed at any point, because it is run before every switch.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import filecmp
import os
import shutil
import stat
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from .atomic import fsync_dir, is_temp_name

NEXT_SUFFIX = ".mixbuild-next"  # the sibling assembled for (or, after the exchange, holding the old of) a folder
ASIDE_SUFFIX = ".mixbuild-old"  # where the fallback's first rename puts the old folder

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # linux/fs.h
_RENAME_SWAP = 2  # macOS sys/stdio.h
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, getattr(errno, "EOPNOTSUPP", errno.ENOTSUP)}


def next_path(folder: Path) -> Path:
    """The hidden sibling in which `folder`'s next contents are assembled."""
    return folder.with_name(f".{folder.name}{NEXT_SUFFIX}")


def _aside_path(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}{ASIDE_SUFFIX}")


def _libc_exchange() -> Callable[[bytes, bytes], int] | None:
    """The platform's atomic two-folder exchange, or None where the C library has none."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        fn = libc.renameat2
        return lambda a, b: int(fn(_AT_FDCWD, a, _AT_FDCWD, b, _RENAME_EXCHANGE))
    if sys.platform == "darwin" and hasattr(libc, "renamex_np"):
        fn = libc.renamex_np
        return lambda a, b: int(fn(a, b, _RENAME_SWAP))
    return None


_EXCHANGE = _libc_exchange()


def exchange(a: Path, b: Path) -> bool:
    """Swap folders `a` and `b` in one atomic step; False where this platform or file system cannot."""
    if _EXCHANGE is None:
        return False
    if _EXCHANGE(os.fsencode(a), os.fsencode(b)) == 0:
        return True
    err = ctypes.get_errno()
    if err in _UNSUPPORTED:
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def carry(source: Path, dest: Path) -> None:
    """Put the old folder's file `source` into the new folder: a hard link (no copy, same inode), a copy
    where the file system has no links, a new link where it is a symbolic link."""
    if source.is_symlink():
        os.symlink(os.readlink(source), dest)
        return
    try:
        os.link(source, dest, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        shutil.copy2(source, dest)


def switch(folder: Path, staged: Path, moved: Iterable[str] = ()) -> None:
    """Make `staged` (= next_path(folder)) the contents of `folder` in one step; the old contents end up in
    `staged`. `moved` names entries of the old folder (folders, special files) that cannot be linked: they are
    renamed into `staged` just before the exchange."""
    for name in moved:
        os.rename(folder / name, staged / name)
    fsync_dir(staged)
    if not folder.exists():
        os.rename(staged, folder)
    elif not exchange(folder, staged):
        aside = _aside_path(folder)
        os.rename(folder, aside)
        os.rename(staged, folder)  # a kill between the two: `settle` puts `aside` back
        os.rename(aside, staged)
    fsync_dir(folder.parent)


def _same(a: Path, b: Path) -> bool:
    """Whether `a` is `b` (one inode) or an equal copy of it (a link or file carried where links fail)."""
    sa, sb = a.lstat(), b.lstat()
    if (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino):
        return True
    if a.is_symlink() or b.is_symlink():
        return a.is_symlink() and b.is_symlink() and os.readlink(a) == os.readlink(b)
    return stat.S_ISREG(sa.st_mode) and stat.S_ISREG(sb.st_mode) and filecmp.cmp(a, b, shallow=False)


def settle(folder: Path, listed: Callable[[Path], set[str]], record: str) -> bool:
    """Empty the sibling a switch (finished or killed) left next to `folder`; True if it is gone.

    `listed(folder)` names the files mixbuild delivers in a folder (its manifest and what that lists). What
    either side's manifest names is mixbuild's (an old version, a stale deliverable, a new one never shown), and
    is removed from the sibling, as are temp files and entries `folder` holds the same file as; anything else
    (a file the user saved while the build ran) is moved back into `folder`. An entry whose name `folder` holds
    with other contents is left where it is, and so is the sibling: nothing is lost, and the caller says so."""
    aside, staged = _aside_path(folder), next_path(folder)
    if aside.is_dir() and not aside.is_symlink():
        if not folder.exists():  # killed between the fallback's renames: the old delivery goes back
            os.rename(aside, folder)
        elif not staged.exists():
            os.rename(aside, staged)
    if not staged.is_dir() or staged.is_symlink():
        return True
    if not folder.exists():  # a first delivery killed before its rename: everything in it is ours
        shutil.rmtree(staged)
        return True
    ours = listed(staged) | listed(folder)
    # the sibling's `record` (the manifest `listed` reads) goes last: a kill meanwhile leaves it to say what is ours
    for entry in sorted(os.scandir(staged), key=lambda e: (e.name == record, e.name)):
        here = folder / entry.name
        taken = here.exists() or here.is_symlink()
        if entry.is_dir(follow_symlinks=False):
            if not taken:
                os.rename(entry.path, here)
        elif is_temp_name(entry.name) or entry.name in ours or taken and _same(Path(entry.path), here):
            os.unlink(entry.path)
        elif not taken:
            os.rename(entry.path, here)
    with contextlib.suppress(OSError):
        staged.rmdir()
        fsync_dir(folder)
        return True
    return False
