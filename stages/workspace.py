"""A kernel's song-length working arrays: on the heap where they fit a budget, else mapped from a scratch file.

A song of usual length is worked on in memory: a file-backed map costs its page faults, and writeback of
its dirty pages that competes with the cache's own writes (a 4-minute final took 1.56 s mapped, 1.13 s on
the heap, medians here). A long song (a 20-minute suite, an album-length programme) goes to the file and
the page cache, and each pass drops the pages it is done with, so no process holds more than the budget
plus a window, whatever the length.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .registry import scratch_file

HEAP_WORK_BYTES = 384 << 20
"""Bytes of working arrays this process's kernels may hold on the heap at once (a final's 11 minutes of float32
stereo at 48 kHz with its limiter's envelope; two 4-minute finals side by side): with the interpreter, the
numba kernels and a second task's streams, the build process stays under 1 GB (issue 14): an hour of 20-minute
songs at -j 2 peaked at 766 MB (at 512 MiB, 947 MB: an export's 461 MB of decoded samples beside another task)."""


class _HeapBudget:
    """The bytes of `work_array`s on the heap now, in this process: each is counted until it is freed."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # a freed array's finalizer may run (in a GC) while this thread holds it
        self.held_bytes = 0

    def take(self, nbytes: int) -> bool:
        with self._lock:
            if self.held_bytes + nbytes > HEAP_WORK_BYTES:
                return False
            self.held_bytes += nbytes
            return True

    def give_back(self, nbytes: int) -> None:
        with self._lock:
            self.held_bytes -= nbytes


HEAP = _HeapBudget()


def work_arrays(*specs: tuple[tuple[int, ...], Any]) -> list[np.ndarray]:
    """New uninitialised arrays, one per (shape, dtype): all on the heap where together they fit what is left of
    HEAP_WORK_BYTES (each counted until it is freed), else each a shared map of a new scratch file, unlinked at
    once (its space is freed with the map, whatever way the kernel ends). A kernel asks for its working set in
    one call, so a long song's is mapped whole rather than split (a 20-minute final's copy alone on the heap
    would hold 461 MB). The file's blocks are allocated before it is mapped: a full disk fails here, naming the
    file, not as a SIGBUS when a page of a sparse map is first written."""
    sizes = [int(np.prod(shape)) * np.dtype(dtype).itemsize for shape, dtype in specs]
    if not HEAP.take(sum(sizes)):
        return [_mapped(shape, dtype, nbytes) for (shape, dtype), nbytes in zip(specs, sizes)]
    arrays: list[np.ndarray] = []
    try:
        for (shape, dtype), nbytes in zip(specs, sizes):
            arrays.append(np.empty(shape, dtype=dtype))
            weakref.finalize(arrays[-1], HEAP.give_back, nbytes)
    except BaseException:
        HEAP.give_back(sum(sizes[len(arrays):]))  # those made give theirs back as they are freed
        raise
    return arrays


def work_array(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """One working array (see work_arrays)."""
    return work_arrays((shape, dtype))[0]


def _mapped(shape: tuple[int, ...], dtype: Any, nbytes: int) -> np.ndarray:
    if not nbytes:  # an empty file cannot be mapped
        return np.empty(shape, dtype=dtype)
    path = scratch_file(".work")
    try:
        with path.open("r+b") as fh, errors_named(path):
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(fh.fileno(), 0, nbytes)
            else:  # macOS has none: a sparse file, and a full disk shows where a page is first written
                fh.truncate(nbytes)
        return np.memmap(path, dtype=dtype, mode="r+", shape=shape)
    finally:
        path.unlink(missing_ok=True)


@contextmanager
def errors_named(path: Path) -> Iterator[None]:
    """An OSError that names no file (a full disk's ENOSPC, a size limit's EFBIG) names `path`: the build's
    one line says where."""
    try:
        yield
    except OSError as err:
        if err.filename is not None:
            raise
        raise OSError(err.errno, err.strerror or str(err), str(path)) from err
