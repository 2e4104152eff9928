"""RIFF/WAVE at the byte level: where a file's PCM lies, a broadcast-WAV start time, and an album file spliced
from its tracks' PCM.

Splicing copies each track's stored integers as they are (the kernel's copy_file_range where the OS has
it), instead of decoding and re-encoding them: a lossless album file costs a copy of its tracks' bytes.
`data_parts` describes the same file without writing it: its header, then each track's PCM range and
its silence, then what follows the data (the tags), so that the cache keeps the recipe, not the bytes;
`skeleton_of` does the same for a tagged copy of one file.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterator
from pathlib import Path

COPY_BLOCK_BYTES = 1 << 20
"""Bytes per read and write where the OS cannot copy between files itself."""

RIFF_MAX_BYTES = (1 << 32) - 1
"""A RIFF chunk's size is 32 bits: a longer album file is RF64, which libsndfile writes (no splice)."""


BEXT_TIME_REFERENCE_AT = 256 + 32 + 32 + 10 + 8
"""Where a bext chunk's TimeReference (uint64, low word first) starts: after Description, Originator,
OriginatorReference, OriginationDate and OriginationTime (EBU Tech 3285)."""


def find_chunk(path: Path, wanted: bytes) -> tuple[int, int] | None:
    """(offset, size) of the bytes of the first `wanted` chunk of a RIFF/WAVE (or RF64) file, None if it has
    none before the data; ValueError if it is not such a file (a FIFO or device is not opened for a read that
    could wait forever)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError(f"{path}: not a regular file")
    with os.fdopen(fd, "rb") as fh:
        riff = fh.read(12)
        if riff[:4] not in (b"RIFF", b"RF64") or riff[8:12] != b"WAVE":
            raise ValueError(f"{path}: not a RIFF/WAVE file")
        while len(head := fh.read(8)) == 8:
            name, size = struct.unpack("<4sI", head)
            if name == wanted:
                return fh.tell(), size
            if name == b"data" and riff[:4] == b"RF64":
                return None  # its 32-bit size is a placeholder (ds64 holds the real one): nothing to skip by
            fh.seek(size + (size & 1), os.SEEK_CUR)  # chunks are padded to an even length
    return None


def data_chunk(path: Path) -> tuple[int, int]:
    """(offset, size) of the bytes of a RIFF/WAVE file's `data` chunk; ValueError if it has none."""
    found = find_chunk(path, b"data")
    if found is None:
        raise ValueError(f"{path}: no data chunk")
    return found


def bext_start_s(path: Path) -> float | None:
    """A broadcast-WAV file's place on its session's timeline in seconds since midnight: the bext chunk's
    TimeReference (samples at the file's own rate, as a DAW stamps a bounce) over the fmt chunk's rate;
    None for a file without one (or not a WAV at all)."""
    try:
        bext, fmt = find_chunk(path, b"bext"), find_chunk(path, b"fmt ")
    except (ValueError, OSError):
        return None
    if bext is None or fmt is None or bext[1] < BEXT_TIME_REFERENCE_AT + 8 or fmt[1] < 8:
        return None
    with path.open("rb") as fh:
        fh.seek(fmt[0] + 4)
        (rate_hz,) = struct.unpack("<I", fh.read(4))
        fh.seek(bext[0] + BEXT_TIME_REFERENCE_AT)
        low, high = struct.unpack("<II", fh.read(8))
    return (low | high << 32) / rate_hz if rate_hz else None


def _copy_range(source: int, sink: int, offset: int, count: int) -> None:
    """Copy `count` bytes of file `source` from `offset` to the current position of file `sink`."""
    try:
        while count > 0:
            copied = os.copy_file_range(source, sink, count, offset)
            if copied == 0:
                raise OSError(f"copy_file_range: source ended {count} bytes early")
            offset, count = offset + copied, count - copied
        return
    except (AttributeError, OSError) as err:  # not Linux, or a file system that refuses: read and write
        if isinstance(err, OSError) and "ended" in str(err):
            raise
    while count > 0:
        block = os.pread(source, min(COPY_BLOCK_BYTES, count), offset)
        if not block:
            raise OSError(f"read: source ended {count} bytes early")
        os.write(sink, block)
        offset, count = offset + len(block), count - len(block)


def splice_pcm(path: Path, tracks: list[Path], lengths: list[int], frame_bytes: int) -> None:
    """Append to `path`, a WAV file whose header ends in an empty `data` chunk, each track's PCM bytes then
    silence up to its length (frames) in the sequence, and set the RIFF and data sizes. The tracks share the
    header's format; the caller checks that the result fits RIFF's 32-bit sizes and is of even length."""
    offset = set_data_size(path, sum(lengths) * frame_bytes)
    fd = os.open(path, os.O_RDWR)
    try:
        os.lseek(fd, offset, os.SEEK_SET)
        for track, start, count in data_parts(tracks, lengths, frame_bytes):
            if track is None:  # silence: left the hole set_data_size made, where the FS keeps them
                os.lseek(fd, count, os.SEEK_CUR)
                continue
            source = os.open(track, os.O_RDONLY)
            try:
                _copy_range(source, fd, start, count)
            finally:
                os.close(source)
    finally:
        os.close(fd)


Part = tuple[Path | None, int, int]
"""(file, offset, bytes) of a spliced file's piece: that range of the file, or that many zero bytes (None)."""


def data_parts(tracks: list[Path], lengths: list[int], frame_bytes: int) -> list[Part]:
    """The `data` chunk `splice_pcm` writes, as pieces: each track's PCM bytes, then its silence."""
    parts: list[Part] = []
    for track, length in zip(tracks, lengths):
        start, count = data_chunk(track)
        parts += [(track, start, count), (None, 0, length * frame_bytes - count)]
    return parts


def set_data_size(path: Path, data_bytes: int) -> int:
    """Give `path`, a WAV file whose header ends in an empty `data` chunk, a data chunk of `data_bytes` zero
    bytes (a hole: nothing is written) and the matching RIFF size; returns the data's offset."""
    offset, size = data_chunk(path)
    if size != 0 or offset != path.stat().st_size:
        raise ValueError(f"{path}: the header must end in an empty data chunk")
    with path.open("r+b") as fh:
        fh.truncate(offset + data_bytes)
        fh.seek(4)
        fh.write(struct.pack("<I", offset - 8 + data_bytes))
        fh.seek(offset - 4)
        fh.write(struct.pack("<I", data_bytes))
    return offset


def skeleton_of(source: Path, path: Path) -> tuple[int, int]:
    """Write into `path` the bytes of `source`, a RIFF/WAVE file, around its PCM, which becomes a hole of the same
    size (nothing is written there): a file a tagger can edit in place of `source`, costing its header and
    tags. Returns (offset, bytes) of the PCM in `source`; ValueError where it is no such file (or RF64)."""
    offset, count = data_chunk(source)
    with source.open("rb") as fh, path.open("wb") as sink:
        sink.write(fh.read(offset))
        sink.truncate(offset + count)
        sink.seek(offset + count)
        fh.seek(offset + count)
        sink.write(fh.read())  # the chunks after the data (a pad byte, tags), small
    return offset, count


def around_data(path: Path, data_bytes: int) -> tuple[bytes, bytes]:
    """The bytes of a tagged WAV skeleton before and after its data chunk, which must still hold `data_bytes`
    (wherever the tagger left it); ValueError where tagging resized it."""
    start, size = data_chunk(path)
    if size != data_bytes:
        raise ValueError(f"{path}: tagging changed the WAV's data chunk ({size} bytes, not {data_bytes})")
    with path.open("rb") as fh:
        head = fh.read(start)
        fh.seek(start + size)
        return head, fh.read()


def read_parts(parts: list[Part]) -> Iterator[bytes | memoryview]:
    """The bytes the pieces make, in order, block by block (at most COPY_BLOCK_BYTES at a time)."""
    zeros = bytes(COPY_BLOCK_BYTES)
    for path, offset, count in parts:
        if path is None:
            while count > 0:
                yield memoryview(zeros)[:min(count, COPY_BLOCK_BYTES)]
                count -= COPY_BLOCK_BYTES
            continue
        fd = os.open(path, os.O_RDONLY)
        try:
            while count > 0:
                block = os.pread(fd, min(COPY_BLOCK_BYTES, count), offset)
                if not block:
                    raise OSError(f"{path}: ends {count} bytes early")
                yield block
                offset, count = offset + len(block), count - len(block)
        finally:
            os.close(fd)
