"""A kernel's working arrays (stages.workspace): a song of usual length is worked on the heap, a long one in a
mapped scratch file; the final and the export give the same bytes either way, and leave no scratch file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mixbuild.stages import export, final, workspace
from mixbuild.stages.params import Limiter
from mixbuild.stages.registry import SCRATCH_FILES

RATE = 48_000


@pytest.fixture
def scratch_dir(tmp_path):
    """Scratch files go to a folder of their own, so that a test sees any left behind."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    made = iter(range(1_000_000))

    def scratch_file(suffix: str) -> Path:
        path = folder / f"{next(made)}{suffix}"
        path.touch()  # scratch_file hands out a new empty file
        return path

    token = SCRATCH_FILES.set(scratch_file)
    yield folder
    SCRATCH_FILES.reset(token)


@pytest.fixture
def placements(monkeypatch):
    """Where each working array went: True for the heap, False for a mapped file."""
    seen: list[bool] = []
    real = workspace.work_arrays

    def spy(*specs):
        arrays = real(*specs)
        seen.extend(not isinstance(array, np.memmap) for array in arrays)
        return arrays

    monkeypatch.setattr(final, "work_arrays", spy)
    monkeypatch.setattr(workspace, "work_arrays", spy)  # the export's work_array asks it
    return seen


def hot_master(seconds: float) -> np.ndarray:
    """Float32 stereo that overshoots -1 dBTP often (the limiter works throughout)."""
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * RATE)) / RATE
    tone = np.sin(2 * np.pi * 997.0 * t) * (0.8 + 0.4 * np.sin(2 * np.pi * 1.3 * t))
    return (np.stack([tone, 0.9 * tone], axis=1) + 0.05 * rng.standard_normal((t.size, 2))).astype(np.float32)


def render_pair(master: np.ndarray, target_rate_hz: int) -> tuple[np.ndarray, bytes, dict]:
    """The final's samples, and the export's file bytes and facts, for one target."""
    params = final.FinalParams(sample_rate_hz=RATE, target_rate_hz=target_rate_hz, ceiling_dbtp=-1.0,
                               limiter=Limiter(), target_lufs=-10.0, loudness_mode="track")
    written = final.render_final(final.FinalInputs(master=master), params)
    limited = np.load(written.path)
    encoded = export.render_export(export.ExportInputs(final=limited), export.ExportParams(
        sample_rate_hz=target_rate_hz, format="wav", bit_depth=16 if target_rate_hz == 44_100 else 24))
    return limited, encoded["file"].data.read_bytes(), {k: encoded[k] for k in ("facts", "sequence")}


@pytest.mark.parametrize("target_rate_hz", [48_000, 44_100])
def test_final_and_export_give_the_same_bytes_on_the_heap_and_in_a_mapped_file(
        scratch_dir, placements, monkeypatch, target_rate_hz):
    master = hot_master(3.0)
    on_heap = render_pair(master, target_rate_hz)
    assert placements and all(placements)  # 3 s fits the default budget
    placements.clear()
    monkeypatch.setattr(workspace, "HEAP_WORK_BYTES", 0)  # every working array is a long song's now
    mapped = render_pair(master, target_rate_hz)
    assert placements and not any(placements)
    assert np.array_equal(on_heap[0], mapped[0])
    assert on_heap[0].shape[0] == round(master.shape[0] * target_rate_hz / RATE)
    assert on_heap[1] == mapped[1] and on_heap[2] == mapped[2]
    assert not list(scratch_dir.glob("*.work"))  # a mapped working file is unlinked as soon as it is mapped


def test_a_working_array_over_the_budget_is_a_map_of_a_file_no_longer_named(scratch_dir, monkeypatch):
    monkeypatch.setattr(workspace, "HEAP_WORK_BYTES", 1 << 20)
    array = workspace.work_array((1 << 17, 2), np.float64)  # 2 MiB
    assert isinstance(array, np.memmap) and not Path(array.filename).exists()
    array[:] = 1.5
    assert float(array.sum()) == 1.5 * (1 << 18)
    empty = workspace.work_array((0, 2), np.float64)  # an empty file cannot be mapped
    assert empty.shape == (0, 2) and not isinstance(empty, np.memmap)


def test_kernels_side_by_side_share_one_heap_budget_until_their_arrays_are_freed(scratch_dir, monkeypatch):
    # The build process renders two tasks at once: two finals of 0.75 MiB each under a 1 MiB budget get one
    # heap array and one map, not two heap arrays; once the first is freed, its bytes are the next one's.
    monkeypatch.setattr(workspace, "HEAP_WORK_BYTES", 1 << 20)
    monkeypatch.setattr(workspace, "HEAP", workspace._HeapBudget())  # none held by arrays of earlier tests
    first = workspace.work_array((3 << 15, 2), np.float32)
    second = workspace.work_array((3 << 15, 2), np.float32)
    assert not isinstance(first, np.memmap) and isinstance(second, np.memmap)
    view = first[10:20]  # a view keeps the heap array, and its bytes, held
    del first
    assert isinstance(workspace.work_array((3 << 15, 2), np.float32), np.memmap)
    del view
    assert not isinstance(workspace.work_array((3 << 15, 2), np.float32), np.memmap)
    assert workspace.HEAP.held_bytes == 0  # every heap array made here is freed by now


def test_a_kernels_working_set_is_on_the_heap_or_mapped_whole(scratch_dir, monkeypatch):
    # A final asks for its copy and its envelope at once: 0.75 + 0.375 MiB do not fit 1 MiB, so both are
    # mapped (a long song held by the page cache), not the copy alone on the heap; 0.25 + 0.125 MiB fit.
    monkeypatch.setattr(workspace, "HEAP_WORK_BYTES", 1 << 20)
    monkeypatch.setattr(workspace, "HEAP", workspace._HeapBudget())
    long_song = workspace.work_arrays(((3 << 15, 2), np.float32), ((3 << 15,), np.float32))
    assert all(isinstance(a, np.memmap) for a in long_song) and workspace.HEAP.held_bytes == 0
    usual = workspace.work_arrays(((1 << 15, 2), np.float32), ((1 << 15,), np.float32))
    assert not any(isinstance(a, np.memmap) for a in usual) and workspace.HEAP.held_bytes == 3 << 17
    del usual
    assert workspace.HEAP.held_bytes == 0


def test_a_full_disk_fails_the_working_file_by_name_not_by_sigbus(tmpfs, monkeypatch):
    """Blocks are allocated before the map: 8 MiB on a 4 MiB tmpfs is an OSError naming the file (a sparse
    map would have taken SIGBUS at its first page past the space), and no file is left behind."""
    monkeypatch.setattr(workspace, "HEAP_WORK_BYTES", 0)  # every working array is mapped
    mnt = tmpfs("4m")
    made = iter(range(10))

    def scratch_file(suffix: str) -> Path:
        path = mnt / f"{next(made)}{suffix}"
        path.touch()
        return path

    monkeypatch.setattr(workspace, "scratch_file", scratch_file)
    with pytest.raises(OSError) as failure:
        workspace.work_array((1 << 19, 2), np.float64)
    assert failure.value.filename == str(mnt / "0.work") and "No space left" in str(failure.value)
    assert list(mnt.iterdir()) == []
    small = workspace.work_array((1 << 16, 2), np.float64)  # 1 MiB fits
    small[:] = 0.25
    assert float(small.sum()) == 0.25 * (1 << 17)
