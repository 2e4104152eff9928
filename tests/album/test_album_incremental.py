"""Album-level early cutoff and export-only changes, on the small engine test album."""

from __future__ import annotations



def test_tweak_that_keeps_album_gain_remasters_one_song(make_project):
    project = make_project("album")
    project.build()
    project.spec["songs"][0]["stems"]["lead"]["pan"] = 0.21  # constant-power pan: loudness unchanged
    project.save()
    rendered = project.build().rendered
    assert {"one/stem/lead", "one/mixdown", "one/master", "one/loudness", "album/loudness"} <= rendered
    assert not any(node.startswith("two/") for node in rendered)


def test_gain_tweak_that_keeps_album_gain_renders_exactly_one_songs_chain(make_project):
    project = make_project("album")
    project.build()
    project.spec["songs"][0]["stems"]["kick"]["gain_db"] = -3.1  # album loudness moves < 0.05 dB
    project.save()
    # the stem, its bus chain, that song's mixdown and master, the album-gain decision (re-decided to
    # the same 0.1 dB step: album/gain/* and the other song's final stay), its final, export and tagged file,
    # and the album export
    assert project.build().rendered == {
        "one/stem/kick", "one/bus/drums", "one/mixdown", "one/master", "one/loudness", "album/loudness",
        "one/final/streaming", "one/export/streaming", "one/tagged/streaming", "album/export/streaming"}


def test_tag_change_retags_the_files_only(make_project):
    """No export (dither, encode, measure) renders again: the tagged copies and the album export do."""
    project = make_project("album")
    project.build()
    project.spec["targets"]["streaming"]["tags"] = {"comment": "remastered"}
    project.save()
    assert project.build().rendered == {"one/tagged/streaming", "two/tagged/streaming", "album/export/streaming"}


def test_tonal_tweak_remasters_only_songs_whose_own_decision_changed(make_project):
    import copy

    from mixbuild.pipeline.cache import Cache

    project = make_project("album")
    project.spec["master"]["tonal_match"] = {"strength": 1.0, "max_db": 3.0}
    three = copy.deepcopy(project.spec["songs"][0]) | {"title": "Three"}  # song one's stems, own title
    three["stems"]["lead"]["eq"] = [{"type": "high_shelf", "freq_hz": 3000, "gain_db": 6}]
    project.spec["songs"].append(three)
    project.spec["songs"][0]["stems"]["lead"]["gain_db"] = -4.5
    project.save()

    def moves(report):
        digests = {n.id: n.digest for n in report.nodes}
        return {s: Cache(project.root / "cache").load_json(digests[f"{s}/tonal"])["value"]
                for s in ("one", "two", "three")}

    before = moves(project.build())
    project.spec["songs"][0]["stems"]["lead"]["gain_db"] = -5.0  # moves song one's decision only
    project.save()
    report = project.build()
    after = moves(report)
    assert after["one"] != before["one"] and after["two"] == before["two"] and after["three"] == before["three"]
    assert {"album/tonal", "one/tonal", "two/tonal", "three/tonal", "one/master"} <= report.rendered
    assert not report.rendered & {"two/master", "three/master"}  # their finals follow the album gain, if it moved


def test_one_targets_loudness_change_refinishes_that_target_only(make_project):
    project = make_project("album")
    project.spec["targets"]["loud"] = {"preset": "streaming", "target_lufs": -10.0}
    project.save()
    project.build()
    project.spec["targets"]["loud"]["target_lufs"] = -11.0
    project.save()
    # album/gain/streaming re-picks its unchanged gain (same bytes): no streaming final is touched
    assert project.build().rendered == {
        "album/loudness", "album/gain/loud", "album/gain/streaming", "one/final/loud", "two/final/loud",
        "one/export/loud", "two/export/loud", "one/tagged/loud", "two/tagged/loud", "album/export/loud"}
