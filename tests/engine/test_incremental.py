"""Only what changed re-renders: the set of rendered node ids after each kind of edit."""

from __future__ import annotations

import os

import yaml

TRACK_CHAIN = {"one/master", "one/final/streaming", "one/export/streaming", "album/export/streaming"}


def test_cold_build_renders_every_node_and_warm_renders_none(project):
    cold = project.build()
    assert cold.rendered == {n.id for n in cold.nodes}
    assert {"one/stem/kick", "one/bus/drums", "one/bus/verb", "one/mixdown", "album/tonal",
            "two/master", "two/final/streaming", "album/export/streaming"} <= cold.rendered
    assert project.build().rendered == set()
    assert all(r["path"].startswith(str(project.root / "build")) for r in cold.outputs)


def test_gain_change_rerenders_that_stem_and_downstream_only(project):
    project.build()
    project.spec["songs"][0]["stems"]["kick"]["gain_db"] = -6.0
    project.save()
    plan = project.plan()
    assert plan["one/stem/kick"].reasons == ["params changed: gain_db"]
    assert plan["one/bus/drums"].reasons == ["input re-renders: one/stem/kick"]
    assert plan["two/stem/kick"].status == "cached"
    rendered = project.build().rendered
    assert rendered == {"one/stem/kick", "one/bus/drums", "one/mixdown"} | TRACK_CHAIN


def test_key_order_comments_and_number_spelling_change_nothing(project):
    project.build()
    text = yaml.safe_dump(project.spec, sort_keys=True)  # every mapping reordered
    text = text.replace("gain_db: -3.0", "gain_db: -3  # same value, other spelling")
    project.save("# a comment\n" + text)
    assert project.build().rendered == set()


def test_touching_a_source_changes_nothing_but_new_bytes_rerender(project):
    project.build()
    source = project.root / "stems" / "two-lead.wav"
    os.utime(source, ns=(1_000_000_000, 1_000_000_000))
    assert project.build().rendered == set()
    data = bytearray(source.read_bytes())
    data[-3] ^= 0x01  # one LSB of the last sample
    source.write_bytes(bytes(data))
    plan = project.plan()
    assert plan["two/stem/lead"].reasons == [f"input changed: {source.resolve()}"]
    rendered = project.build().rendered
    assert {"two/stem/lead", "two/bus/verb", "two/mixdown", "two/master"} <= rendered
    assert not any(n.startswith("one/") for n in rendered)


def test_early_cutoff_when_output_bytes_are_identical(project):
    project.build()
    # the bass peaks near -10 dBFS: moving a hard-knee threshold from -2 to -1 dBFS changes nothing audible
    project.spec["songs"][0]["stems"]["bass"]["compressor"]["threshold_db"] = -1.0
    project.save()
    assert project.build().rendered == {"one/stem/bass"}


def test_send_level_rerenders_the_bus_not_the_stem(project):
    project.build()
    project.spec["songs"][1]["stems"]["lead"]["sends"]["verb"] = -6.0
    project.save()
    rendered = project.build().rendered
    assert "two/stem/lead" not in rendered and {"two/bus/verb", "two/mixdown"} <= rendered
