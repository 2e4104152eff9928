"""Only what changed re-renders: the set of rendered node ids after each kind of edit."""

from __future__ import annotations

import json
import os

import soundfile
import yaml

from mixbuild.pipeline.cache import Cache
from testkit.project import SR, write_stem

TRACK_CHAIN = {"one/master", "one/final/streaming", "one/export/streaming", "one/tagged/streaming",
               "album/export/streaming"}


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


# Stems keep their own extent (issue 14 item 5): a stem's output spans the stem, the sums own the song's length.

STEMS = {f"{song}/stem/{stem}" for song in ("one", "two") for stem in ("kick", "bass", "lead")}


def _report_digests(project) -> dict[str, str]:
    report = json.loads((project.root / "build" / "build-report.json").read_text())
    return {n["id"]: n["digest"] for n in report["nodes"]}


def test_a_stem_is_cached_at_its_own_length_not_the_songs(project):
    project.spec["songs"][0]["stems"]["kick"]["offset_s"] = 0.5  # placed later in the song; spans itself only
    project.save()
    project.build()
    digests, cache = _report_digests(project), Cache(project.root / "cache")
    infos = {node_id: soundfile.info(str(project.root / "stems" / f"{node_id.replace('/stem/', '-')}.wav"))
             for node_id in STEMS}
    frames = {node_id: info.frames for node_id, info in infos.items()}
    for node_id in STEMS:  # a mono source stays mono (the sums place it)
        assert cache.load_array(digests[node_id]).shape == (frames[node_id], infos[node_id].channels), node_id
    song_frames = cache.load_array(digests["one/mixdown"]).shape[0]
    assert song_frames >= SR // 2 + frames["one/stem/kick"] + SR // 2  # the kick's offset, length, minimum tail


def test_a_longer_reverb_decay_lengthens_the_song_and_rerenders_no_stem(project):
    project.build()
    project.spec["songs"][0]["buses"]["verb"]["reverb"]["decay_s"] = 3.0  # tail 0.5 s -> 3 s
    project.save()
    plan = project.plan()
    assert plan["one/bus/drums"].reasons == ["params changed: frames"]  # the song's length did change
    rendered = project.build().rendered
    assert rendered == {"one/bus/drums", "one/bus/verb", "one/mixdown"} | TRACK_CHAIN


def test_a_later_ending_new_stem_rerenders_no_existing_stem(project):
    project.build()
    write_stem(project.root / "stems" / "one-outro.wav", 330.0, seconds=1.0, seed=7)
    project.spec["songs"][0]["stems"]["outro"] = {"file": "stems/one-outro.wav", "offset_s": 2.5}  # ends at 3.5 s
    project.save()
    rendered = project.build().rendered
    assert rendered == {"one/stem/outro", "one/bus/drums", "one/bus/verb", "one/mixdown"} | TRACK_CHAIN


def test_an_offset_change_rerenders_the_stem_to_the_same_bytes_and_moves_it_in_the_sums(project):
    project.build()
    before = _report_digests(project)
    project.spec["songs"][0]["stems"]["kick"]["offset_s"] = 0.25
    project.save()
    rendered = project.build().rendered
    after = _report_digests(project)
    assert rendered == {"one/stem/kick", "one/bus/drums", "one/bus/verb", "one/mixdown"} | TRACK_CHAIN
    assert after["one/stem/kick"] == before["one/stem/kick"]  # no automation: the offset moves, the bytes do not
    assert after["one/bus/drums"] != before["one/bus/drums"]
