"""A delivered album file's writeback starts while it is written: each hint covers what lies WRITEBACK_LAG_BYTES
and more behind the write, the hints follow one another from the file's start, and the bytes are what was written."""

from __future__ import annotations

import os

import numpy as np
import pytest

from mixbuild.pipeline import deliver


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise on this platform (macOS)")
def test_writeback_is_handed_over_behind_the_write_and_the_bytes_stay(tmp_path, monkeypatch):
    advised: list[tuple[int, int, int]] = []
    real = os.posix_fadvise

    def spy(fd: int, offset: int, length: int, advice: int) -> None:
        advised.append((offset, length, advice))
        real(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", spy)
    block = np.random.default_rng(0).bytes(3 << 20)
    lag = deliver.WRITEBACK_LAG_BYTES
    path = tmp_path / "album.wav"
    handed = 0
    with path.open("wb") as sink:
        for _ in range(12):  # 36 MiB, written as a delivery writes an album file's blocks
            sink.write(block)
            handed = deliver._start_writeback(sink, handed)
            assert handed == 0 or handed <= sink.tell() - lag  # never closer to the write than the lag
            assert sink.tell() - handed < 2 * lag + len(block)  # and never further behind than twice it
        sink.flush()
        os.fsync(sink.fileno())
    assert advised and {advice for _, _, advice in advised} == {os.POSIX_FADV_DONTNEED}
    starts = [offset for offset, _, _ in advised]
    ends = [offset + length for offset, length, _ in advised]
    assert starts == [0, *ends[:-1]] and ends[-1] == handed  # contiguous from the file's start
    assert path.read_bytes() == block * 12
