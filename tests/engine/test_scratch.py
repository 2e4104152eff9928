"""Large kernel outputs (an album file) are written into the cache's scratch/ and moved into objects/:
nothing stays behind, after a good render or a failed one, and the album file's blob is the delivered file."""

from __future__ import annotations

import json

import pytest

import stages.album_export as album_export
from pipeline.cache import Cache
from pipeline.digest import digest_file


def scratch_files(project) -> list:
    return sorted((project.root / "cache" / "scratch").glob("*"))


def test_album_file_moves_from_scratch_into_the_cache(project):
    report = project.build()
    assert scratch_files(project) == []
    node = next(n for n in report.nodes if n.id == "album/export/streaming")
    output = Cache(project.root / "cache").load_json(node.digest)
    album = project.root / "build" / "streaming" / "Test Album.wav"
    blob = output["files"]["Test Album.wav"]["blob"]
    assert digest_file(album) == blob  # the delivered file is the stored blob, byte for byte
    manifest = json.loads((project.root / "build" / "streaming" / "manifest.json").read_text())
    assert [e["track"] for e in manifest["files"]] == [1, 2, None]


def test_a_failing_kernel_leaves_no_scratch_file(project, monkeypatch):
    def fail(*args, **kwargs):
        raise ValueError("facts refused")

    monkeypatch.setattr(album_export, "assembled_facts", fail)
    with pytest.raises(Exception, match="facts refused"):
        project.build()
    assert scratch_files(project) == []
