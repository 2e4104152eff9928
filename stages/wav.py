"""RIFF/WAVE at the byte level: where a file's PCM lies, and an album file spliced from its tracks' PCM.

Splicing copies each track's stored integers as they are (the kernel's copy_file_range where the OS has
it), instead of decoding and re-encoding them: a lossless album file costs a copy of its tracks' bytes.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

COPY_BLOCK_BYTES = 1 << 20
"""Bytes per read and write where the OS cannot copy between files itself."""

RIFF_MAX_BYTES = (1 << 32) - 1
"""A RIFF chunk's size is 32 bits: a longer album file is RF64, which libsndfile writes (no splice)."""


def data_chunk(path: Path) -> tuple[int, int]:
    """(offset, size) of the bytes of a RIFF/WAVE file's `data` chunk; ValueError if it has none."""
    with path.open("rb") as fh:
        riff = fh.read(12)
        if riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            raise ValueError(f"{path}: not a RIFF/WAVE file")
        while len(head := fh.read(8)) == 8:
            name, size = struct.unpack("<4sI", head)
            if name == b"data":
                return fh.tell(), size
            fh.seek(size + (size & 1), os.SEEK_CUR)  # chunks are padded to an even length
    raise ValueError(f"{path}: no data chunk")


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
    offset, size = data_chunk(path)
    if size != 0 or offset != path.stat().st_size:
        raise ValueError(f"{path}: the header must end in an empty data chunk")
    fd = os.open(path, os.O_RDWR)
    try:
        os.lseek(fd, offset, os.SEEK_SET)
        for track, length in zip(tracks, lengths):
            start, count = data_chunk(track)
            source = os.open(track, os.O_RDONLY)
            try:
                _copy_range(source, fd, start, count)
            finally:
                os.close(source)
            os.lseek(fd, length * frame_bytes - count, os.SEEK_CUR)  # silence: a hole where the FS keeps them
        data_bytes = sum(lengths) * frame_bytes
        os.ftruncate(fd, offset + data_bytes)
        os.pwrite(fd, struct.pack("<I", offset - 8 + data_bytes), 4)
        os.pwrite(fd, struct.pack("<I", data_bytes), offset - 4)
    finally:
        os.close(fd)
