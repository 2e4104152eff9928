"""A prune killed at any point leaves no bad entry (issue 15 item 5): a kill between removing objects and
removing their action records made `cache verify` report up to 162 false bad entries. Records now go just
before their object, so what a kill leaves is an orphan object, which verify rightly calls sound."""

from __future__ import annotations

import shutil

import pytest

from mixbuild.pipeline.cache import Cache, pruning


class Killed(BaseException):
    """The prune's process ending at this unlink (no cleanup runs: the same as a kill -9 there)."""


def _prune_killed_at(cache_dir, nth, monkeypatch) -> int:
    """Prune everything, ending at the nth unlink; how many unlinks a whole prune made."""
    real, count = pruning.unlink_quietly, [0]

    def unlink(path):
        count[0] += 1
        if count[0] == nth:
            raise Killed
        return real(path)

    monkeypatch.setattr(pruning, "unlink_quietly", unlink)
    try:
        Cache(cache_dir).prune(max_size_bytes=0)
    except Killed:
        pass
    finally:
        monkeypatch.setattr(pruning, "unlink_quietly", real)
    return count[0]


def test_a_prune_killed_at_any_unlink_leaves_a_sound_cache(project, tmp_path, monkeypatch):
    project.build()
    pristine = tmp_path / "pristine"
    shutil.copytree(project.root / "cache", pristine)
    trial = tmp_path / "trial"
    shutil.copytree(pristine, trial)
    total = _prune_killed_at(trial, 0, monkeypatch)
    assert total > 40 and Cache(trial).stats()["objects"] == 0
    for nth in range(1, total + 1):
        shutil.rmtree(trial)
        shutil.copytree(pristine, trial)
        _prune_killed_at(trial, nth, monkeypatch)
        assert Cache(trial).verify() == [], nth


@pytest.mark.parametrize("nth", [1, 10])
def test_a_build_after_a_killed_prune_renders_what_was_pruned(project, tmp_path, monkeypatch, nth):
    first = project.build()
    _prune_killed_at(project.root / "cache", nth, monkeypatch)
    again = project.build()
    assert {n.id: n.digest for n in again.nodes} == {n.id: n.digest for n in first.nodes}
    assert Cache(project.root / "cache").verify() == []
