"""A stem changed while a build runs never poisons the cache (issue 15 item 1): a stem node renders only from
bytes that match the digest its key was built from, and only if nothing wrote the file while it read it.

The fault campaign's case: a user re-bounces a stem mid-build, then undoes it. Before, the re-bounce's render
was stored under the original content's key and served for it forever."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mixbuild.pipeline.executor as executor
import mixbuild.stages.stem as stem
from mixbuild.pipeline import api
from mixbuild.stages.registry import RenderError
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


@pytest.mark.parametrize("module, name, refusal", [
    (executor, "task_for", r"one-lead\.wav: changed since this build planned it"),  # once the build hashed it
    (stem, "source_stream", r"one-lead\.wav: changed while one/stem/lead read it"),  # as its kernel decodes it
], ids=["after planning", "while read"])
def test_a_stem_rebounced_mid_build_is_refused_and_nothing_is_stored(project, tmp_path, monkeypatch, module, name,
                                                                     refusal):
    path, original = _bounce(project)
    real = getattr(module, name)

    def then_rebounce(*args):  # the lead's node is keyed (task_for) or its file opened (source_stream): re-bounce
        result = real(*args)
        if getattr(args[0], "id", None) == NODE or args[0] == str(path):
            _rebounce(path)
        return result

    monkeypatch.setattr(module, name, then_rebounce)
    with pytest.raises(RenderError, match=refusal):
        project.build()
    monkeypatch.undo()
    _assert_undo_rebuilds_the_original(project, tmp_path, path, original)
