"""A stem changed while a build runs never poisons the cache (issue 15 item 1): a stem node renders only from
bytes that match the digest its key was built from, and only if nothing wrote the file while it read it.

The fault campaign's case: a user re-bounces a stem mid-build, then undoes it. Before, the re-bounce's render
was stored under the original content's key and served for it forever."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pipeline.executor as executor
import stages.stem as stem
from pipeline import api
from stages.registry import RenderError
from testkit.outdir import deliverables
from testkit.project import write_stem

NODE = "one/stem/lead"


def _bounce(project) -> tuple[Path, bytes]:
    """The lead stem's file and its original bytes."""
    path = project.root / "stems" / "one-lead.wav"
    return path, path.read_bytes()


def _rebounce(path: Path) -> None:
    write_stem(path, 523.0, seed=99)  # another take, rewritten in place


def _assert_undo_rebuilds_the_original(project, tmp_path, path: Path, original: bytes) -> None:
    """Undo the re-bounce: the stem renders again (nothing was stored for it) and the build delivers what a
    clean cache gives for the original bytes."""
    assert NODE not in {record.get("node_id") for record in _records(project)}
    path.write_bytes(original)
    rebuilt = project.build()
    assert NODE in rebuilt.rendered
    api.build(project.path, cache_dir=tmp_path / "clean-cache", out_dir=tmp_path / "clean-out", jobs=1)
    assert deliverables(project.root / "build") == deliverables(tmp_path / "clean-out")


def _records(project) -> list[dict]:
    """Every action record in the project's cache."""
    return [json.loads(p.read_text()) for p in (project.root / "cache" / "actions").rglob("*.json")]


def test_a_stem_changed_after_planning_is_refused_and_nothing_is_stored(project, tmp_path, monkeypatch):
    path, original = _bounce(project)
    real_task_for = executor.task_for

    def task_then_rebounce(node, kind, resolved):  # the build hashed the stem; then the user re-bounces it
        task = real_task_for(node, kind, resolved)
        if node.id == NODE:
            _rebounce(path)
        return task

    monkeypatch.setattr(executor, "task_for", task_then_rebounce)
    with pytest.raises(RenderError, match=r"one-lead\.wav: changed since this build planned it"):
        project.build()
    monkeypatch.undo()
    _assert_undo_rebuilds_the_original(project, tmp_path, path, original)


def test_a_stem_rewritten_while_its_node_reads_it_is_refused(project, tmp_path, monkeypatch):
    path, original = _bounce(project)
    real_stream = stem.source_stream

    def rebounce_while_reading(source: str, rate: int):
        opened = real_stream(source, rate)
        if source == str(path):
            _rebounce(path)  # the kernel has the file open and decodes on
        return opened

    monkeypatch.setattr(stem, "source_stream", rebounce_while_reading)
    with pytest.raises(RenderError, match=r"one-lead\.wav: changed while one/stem/lead read it"):
        project.build()
    monkeypatch.undo()
    _assert_undo_rebuilds_the_original(project, tmp_path, path, original)

