"""A full disk: a small tmpfs where mount is allowed (root), else a file-size rlimit on the build."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
from pathlib import Path

from .proc import build


def try_tmpfs(directory: Path, size: str) -> bool:
    """Mount a tmpfs of ``size`` at ``directory`` (root only); False where mount is not permitted."""
    directory.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None or os.geteuid() != 0:
        return False
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
                          capture_output=True, text=True)
    return proc.returncode == 0


def remount(directory: Path, size: str) -> None:
    """Resize the tmpfs at ``directory`` (fill it up, or free space)."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(directory)], check=True, capture_output=True)


def umount(directory: Path) -> None:
    subprocess.run(["umount", "-l", str(directory)], capture_output=True)


def build_with_fsize_limit(spec: Path, cache: Path, out: Path, limit_bytes: int,
                           jobs: int = 1) -> subprocess.CompletedProcess:
    """A build whose processes may not write a file larger than ``limit_bytes`` (EFBIG, not SIGXFSZ)."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return build(spec, cache, out, jobs, preexec_fn=limit)
