"""Delivery removes what mixbuild delivered earlier and the spec no longer produces, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixbuild.pipeline.cache import Cache
from mixbuild.pipeline.deliver import Delivery
from mixbuild.pipeline.manifests import REGISTRY
from mixbuild.pipeline.outlock import LOCK_NAME
from testkit.outdir import album_manifest

MANIFEST = "Test Album.manifest.json"
STREAMING = {"01 - One.wav", "02 - Two.wav", "Test Album.wav", MANIFEST}
CD = STREAMING | {"Test Album.cue"}


def names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def listed(folder: Path) -> set[str]:
    manifest = json.loads(album_manifest(folder).read_text())
    cue = [manifest["cue_sheet"]["path"]] if "cue_sheet" in manifest else []
    return {e["path"] for e in manifest["files"]} | set(cue) | {album_manifest(folder).name}


def with_cd(project):
    project.spec["targets"]["cd"] = {"preset": "cd"}
    project.save()
    project.build()
    out = project.root / "build"
    assert names(out / "streaming") == STREAMING and names(out / "cd") == CD
    return out


def drop_cd_and_prune(project, out: Path) -> None:
    """Rebuild without the cd target, then deliver as a full build does once api.build passes
    prune_targets (see test_dropped_target_end_to_end)."""
    del project.spec["targets"]["cd"]
    project.save()
    report = project.build()
    with Delivery(Cache(project.root / "cache"), out, str(project.path.resolve()), prune_targets=True) as delivery:
        for node in report.nodes:
            delivery.on_done(node)
        delivery.finish(report.nodes)


def test_renamed_song_replaces_its_file_and_user_files_stay(project):
    project.build()
    folder = project.root / "build" / "streaming"
    assert names(folder) == STREAMING
    (folder / "notes.txt").write_text("master at -14, thanks")
    project.spec["songs"][0]["title"] = "Renamed"
    project.save()
    project.build()
    assert names(folder) == {"01 - Renamed.wav", "02 - Two.wav", "Test Album.wav", MANIFEST, "notes.txt"}
    assert listed(folder) == names(folder) - {"notes.txt"}
    assert (folder / "notes.txt").read_text() == "master at -14, thanks"


def test_renamed_album_removes_old_album_file_and_cue_sheet(project):
    out = with_cd(project)
    project.spec["title"] = "New Name"
    project.save()
    project.build()
    assert names(out / "cd") == {"01 - One.wav", "02 - Two.wav", "New Name.wav", "New Name.cue",
                                 "New Name.manifest.json"}
    assert names(out / "streaming") == {"01 - One.wav", "02 - Two.wav", "New Name.wav", "New Name.manifest.json"}


def test_unreadable_old_manifest_leaves_the_folder_alone(project):
    project.build()
    folder = project.root / "build" / "streaming"
    (folder / MANIFEST).write_text("{not json")
    project.spec["songs"][0]["title"] = "Renamed"
    project.save()
    project.build()  # no crash; nothing removed, since nothing says which files mixbuild wrote
    assert names(folder) == STREAMING | {"01 - Renamed.wav"}
    project.spec["songs"][0]["title"] = "Again"
    project.save()
    project.build()  # the new manifest is valid again: the next cleanup is exact
    assert names(folder) == {"01 - One.wav", "01 - Again.wav", "02 - Two.wav", "Test Album.wav", MANIFEST}


def test_dropped_target_folder_is_removed(project):
    out = with_cd(project)
    drop_cd_and_prune(project, out)
    assert names(out) == {"streaming", "build-report.json", LOCK_NAME, REGISTRY}
    assert names(out / "streaming") == STREAMING


def test_dropped_target_keeps_only_user_files(project):
    out = with_cd(project)
    (out / "cd" / "notes.txt").write_text("mine")
    drop_cd_and_prune(project, out)
    assert names(out / "cd") == {"notes.txt"}


def test_another_albums_delivery_in_the_same_out_dir_is_not_pruned(project):
    out = with_cd(project)
    manifest = json.loads((out / "cd" / MANIFEST).read_text())
    for entry in manifest["files"]:
        if entry["track"] is None:
            entry["title"] = "Another Album"
    (out / "cd" / MANIFEST).write_text(json.dumps(manifest))
    drop_cd_and_prune(project, out)
    assert names(out / "cd") == CD


def test_subset_build_does_not_prune_other_targets(project):
    out = with_cd(project)
    project.build(targets=["streaming"])
    assert names(out / "cd") == CD and names(out / "streaming") == STREAMING


def test_dropped_target_end_to_end(project):
    out = with_cd(project)
    del project.spec["targets"]["cd"]
    project.save()
    project.build()
    assert not (out / "cd").exists()
