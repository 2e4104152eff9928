"""Streaming over long audio (stages.dsp.pages): a pass over a memory-mapped song drops the pages it is done
with and keeps every sample; blocks are cut the same way whatever pieces a stream came in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mixbuild.stages.dsp.limiter import true_peak_limit
from mixbuild.stages.dsp.loudness import integrated_lufs, measure
from mixbuild.stages.dsp.pages import drop_pages, rechunk, walk


def resident_kb(path: Path) -> int:
    """Resident kB of this process's mappings of `path` (/proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if line[:1] in "0123456789abcdef" and "-" in line.split(" ", 1)[0]:
            inside = line.rstrip().endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


def mapped(tmp_path: Path, name: str, values: np.ndarray) -> np.memmap:
    array = np.lib.format.open_memmap(tmp_path / name, mode="w+", dtype=values.dtype, shape=values.shape)
    array[:] = values
    return array


def test_dropped_pages_leave_residency_and_keep_every_sample(tmp_path):
    values = np.random.default_rng(1).standard_normal((1 << 20, 2))
    array = mapped(tmp_path, "a.npy", values)
    assert resident_kb(tmp_path / "a.npy") > 15_000  # 16 MiB written through the map
    drop_pages(array, 1 << 19)
    assert resident_kb(tmp_path / "a.npy") < 8_300  # the first half is gone (the header page may stay)
    drop_pages(array[1 << 19:])
    assert resident_kb(tmp_path / "a.npy") < 64
    assert np.array_equal(array, values)  # read back from the file
    del array
    assert np.array_equal(np.load(tmp_path / "a.npy"), values)


def test_copy_on_write_maps_and_heap_arrays_are_left_alone(tmp_path):
    np.save(tmp_path / "b.npy", np.zeros((1 << 16, 2)))
    private = np.load(tmp_path / "b.npy", mmap_mode="c")
    private[:] = 1.0  # private pages: dropping them would lose this
    drop_pages(private)
    assert (private == 1.0).all()
    heap = np.ones((1 << 16, 2))
    drop_pages(heap)
    assert (heap == 1.0).all()


def test_walk_covers_every_row_in_order_and_drops_behind(tmp_path):
    values = np.arange(3 * (1 << 16) + 5, dtype=np.float64)
    array = mapped(tmp_path, "c.npy", values)
    starts = [start for start, _ in walk(array)]
    assert starts == [0, 1 << 16, 2 << 16, 3 << 16]
    drop_pages(array)
    total = 0.0
    for start, block in walk(array):
        assert np.array_equal(block, values[start:start + (1 << 16)])
        total += block.sum()
    assert total == values.sum()
    assert resident_kb(tmp_path / "c.npy") < 64


@pytest.mark.parametrize("rows", [1, 7, 8192])
def test_rechunk_cuts_a_stream_the_same_whatever_its_pieces(rows):
    rng = np.random.default_rng(rows)
    values = rng.standard_normal((20_000, 2))
    cuts = np.sort(rng.integers(0, values.shape[0], 30))
    blocks = list(rechunk(np.split(values, cuts), rows))
    assert all(block.shape[0] == rows for block in blocks[:-1]) and 0 < blocks[-1].shape[0] <= rows
    assert np.array_equal(np.concatenate(blocks), values)


def test_a_mapped_song_is_limited_and_measured_as_in_memory_with_a_window_resident(tmp_path):
    """The limiter in place on a file-backed song with a file-backed detector gives the same samples, bit for
    bit, as on the heap, and leaves a window of the 32 MiB song and 16 MiB envelope resident, not the files."""
    rate = 48_000
    t = np.arange(1 << 21) / rate
    song = (1.6 * np.sin(2 * np.pi * 440.0 * t) * (1.0 + 0.5 * np.sin(2 * np.pi * 0.5 * t)))[:, None] * [1.0, 0.7]
    expected = true_peak_limit(song, rate, ceiling_dbtp=-1.0)
    audio = mapped(tmp_path, "song.npy", song)
    envelope = np.lib.format.open_memmap(tmp_path / "env.npy", mode="w+", dtype=np.float64, shape=song.shape[:1])
    drop_pages(audio)
    limited = true_peak_limit(audio, rate, ceiling_dbtp=-1.0, in_place=True, envelope=envelope)
    assert limited is audio
    assert resident_kb(tmp_path / "song.npy") < 4_096 and resident_kb(tmp_path / "env.npy") < 4_096
    assert np.array_equal(np.asarray(limited), expected)
    drop_pages(audio)
    assert integrated_lufs(audio, rate) == integrated_lufs(expected, rate)
    assert measure(audio, rate) == measure(expected, rate)
    assert resident_kb(tmp_path / "song.npy") < 4_096


def test_a_plain_view_of_a_map_drops_too(tmp_path):
    array = mapped(tmp_path, "d.npy", np.ones((1 << 18, 2)))
    drop_pages(np.asarray(array)[1000:])
    assert resident_kb(tmp_path / "d.npy") < 64
    assert (array == 1.0).all()
