"""Writing .npy files front to back: the same bytes as `np.save`, silence left as holes.

The cache saves arrays through `SparseWriter`, and a kernel writes its audio block by block through
`registry.AudioWriter`, which uses it too, so that no process needs a whole song in memory to store it.
"""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np

HOLE_BYTES = 1 << 12
"""The zero runs a saved array leaves as holes: 4 KiB pieces (a page, the usual file-system block),
aligned in the file. Against 64 KiB pieces, the cache of bench_scale's default album is 2.43x its stems'
bytes instead of 2.52x: the edges of each rest, each drum hit's silence, are kept to the block."""


def npy_header(shape: tuple[int, ...], dtype: np.dtype[Any]) -> bytes:
    """The header `np.save` writes for a C-order array of this shape and dtype (format 1.0)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)})
    return buffer.getvalue()


class SparseWriter:
    """A file-like with only ``write``: each aligned HOLE_BYTES piece of zeros is skipped by a seek instead
    of written, so silence takes no disk where the file system keeps holes (ext4, xfs, btrfs, tmpfs, APFS)
    and reads back as zeros; ``close`` sets the file's length."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self._position = 0

    def write(self, data: Any) -> int:
        if not memoryview(data).nbytes:  # an empty block (a stream that had nothing final yet): no-op
            return 0
        view = memoryview(data).cast("B")
        head = min(view.nbytes, -self._position % HOLE_BYTES)  # up to the next piece boundary: written
        pieces = (view.nbytes - head) // HOLE_BYTES
        # spans: the head (written), each aligned whole piece (a hole where all zeros), the tail (written)
        kinds = np.zeros(pieces + 2, dtype=bool)
        if pieces:
            words = np.frombuffer(view[head:head + pieces * HOLE_BYTES], dtype=np.uint64)
            kinds[1:-1] = ~words.reshape(pieces, HOLE_BYTES // 8).any(axis=1)
        edges = np.concatenate(([0], head + HOLE_BYTES * np.arange(pieces + 1), [view.nbytes]))
        starts = np.concatenate(([0], np.flatnonzero(kinds[1:] != kinds[:-1]) + 1))  # runs of one kind
        for first, stop in zip(starts.tolist(), [*starts[1:].tolist(), kinds.shape[0]]):  # one write or seek each
            lo, hi = int(edges[first]), int(edges[stop])
            if kinds[first]:
                self._fh.seek(hi - lo, os.SEEK_CUR)
            elif hi > lo:
                self._fh.write(view[lo:hi])
        self._position += view.nbytes
        return view.nbytes

    def close(self) -> None:
        self._fh.truncate(self._position)  # a trailing hole: the file still ends where the data does
