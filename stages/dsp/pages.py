"""Streaming over long audio: blocks of a stream (`rechunk`), and the resident pages of memory-mapped audio
(`drop_pages`, `walk`): a pass that walks a file-backed array front to back drops the pages it has finished
with, so a process holds the pass's window, not the song (or the album) it walks.

The data stays in the file (and the page cache); a later access reads it back. In-memory arrays, and
copy-on-write maps whose private pages dropping would lose, are left alone, so every DSP pass may call this
on whatever array it is given.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterable, Iterator

import numpy as np


def _shared_mapping(array: np.ndarray) -> tuple[mmap.mmap, int] | None:
    """The shared file mapping under `array` and the byte offset of its first element in it, else None."""
    if not isinstance(array, np.ndarray) or array.ndim == 0 or array.strides[0] <= 0:
        return None
    owner: object = array
    while isinstance(owner, np.ndarray) and not isinstance(owner, np.memmap):  # a plain view of a map
        owner = owner.base
    if not isinstance(owner, np.memmap) or owner.mode == "c":
        return None
    mapped = getattr(owner, "_mmap", None)
    if not isinstance(mapped, mmap.mmap) or mapped.closed:
        return None
    start = np.frombuffer(mapped, dtype=np.uint8, count=1).ctypes.data
    return mapped, array.ctypes.data - start


def drop_pages(array: np.ndarray, stop: int | None = None, start: int = 0) -> None:
    """Drop the resident pages holding rows [start, stop) (all rows by default) of a file-backed array.

    Pages are whole, so a page shared with the rows just before `start` goes too (its data is safe: it is
    read back on access), and the page holding row `stop` stays for the pass that goes on from it.
    """
    found = _shared_mapping(array)
    if found is None:
        return
    mapped, offset = found
    stop = array.shape[0] if stop is None else min(stop, array.shape[0])
    start = max(start, 0)
    if stop <= start:
        return
    lo = offset + start * array.strides[0]
    hi = offset + stop * array.strides[0]
    lo -= lo % mmap.PAGESIZE
    hi -= hi % mmap.PAGESIZE
    if hi > lo:
        mapped.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


#: Rows per block of `walk`: 64 Ki frames (1 MiB of float64 stereo) keeps a block in cache.
WALK_ROWS = 1 << 16


def walk(array: np.ndarray, rows: int = WALK_ROWS) -> Iterator[tuple[int, np.ndarray]]:
    """(start, array[start:start + rows]) front to back; a block's pages are dropped once the next is asked for."""
    for start in range(0, array.shape[0], rows):
        yield start, array[start:start + rows]
        drop_pages(array, start + rows, start)


def rechunk(pieces: Iterable[np.ndarray], rows: int) -> Iterator[np.ndarray]:
    """Pieces of any length as consecutive blocks of `rows` rows (the last shorter): a stream cut the same
    way whatever pieces it came in."""
    pending, held = [], 0
    for piece in pieces:
        pending.append(piece)
        held += piece.shape[0]
        if held >= rows:
            joined = np.concatenate(pending)
            whole = held - held % rows
            yield from (joined[i:i + rows] for i in range(0, whole, rows))
            pending, held = [joined[whole:]], held - whole
    if held:
        yield np.concatenate(pending)
