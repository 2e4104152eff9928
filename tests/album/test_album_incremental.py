"""Album-level early cutoff and export-only changes, on the small engine test album."""

from __future__ import annotations



def test_tweak_that_keeps_album_gain_remasters_one_song(make_project):
    project = make_project("album")
    project.build()
    project.spec["songs"][0]["stems"]["lead"]["pan"] = 0.21  # constant-power pan: loudness unchanged
    project.save()
    rendered = project.build().rendered
    assert {"one/stem/lead", "one/mixdown", "one/master", "album/loudness"} <= rendered
    assert not any(node.startswith("two/") for node in rendered)


def test_tag_change_rerenders_exports_only(make_project):
    project = make_project("album")
    project.build()
    project.spec["targets"]["streaming"]["tags"] = {"comment": "remastered"}
    project.save()
    assert project.build().rendered == {"one/export/streaming", "two/export/streaming", "album/export/streaming"}
