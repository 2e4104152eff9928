"""Start-up sweep: remove the temporaries a killed build left outside the cache and the out folder.

A kill -9 (of a build's whole process group: a CI cancel, an OOM kill) ends the process before its cleanup and
before loky's resource tracker, leaving named semaphores (`/dev/shm/sem.loky-<pid>-*`), joblib memmap
folders (`joblib_memmapping_folder_<pid>_*`) and kernel scratch files made outside a build's cache
(`<tmp>/mixbuild-<pid>-*`, `stages.registry.scratch_file`). Each name carries its creator's pid: the sweep removes
those whose pid no longer runs on this host, owned by this user, and keeps the rest (a live process, a pid
reused by another process: left for a later sweep, never removed in use). Temporaries inside the cache and the
out folder are swept where they are written (`atomic.sweep_stale_temps`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from .atomic import pid_alive

SHM = Path("/dev/shm")
_OWNED_BY_PID = re.compile(r"(?:sem\.loky-|joblib_memmapping_folder_|mixbuild-)(?P<pid>\d+)[-_]")


def sweep_dead_temporaries(folders: tuple[Path, ...] | None = None) -> int:
    """Remove the temporaries of dead processes in `/dev/shm` and the temp folder; return how many."""
    removed = 0
    for folder in folders if folders is not None else (SHM, Path(tempfile.gettempdir())):
        try:
            entries = list(os.scandir(folder))
        except OSError:  # no /dev/shm here (macOS), or not readable
            continue
        for entry in entries:
            match = _OWNED_BY_PID.match(entry.name)
            if match is None or pid_alive(int(match["pid"])):
                continue
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_uid != os.getuid():
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
                removed += 1
    return removed
