"""Every delivery format: lossy codecs honour the ceiling after decode and are reproducible to the byte,
FLAC/AIFF carry their tags and bit depth, a tag-only change leaves the samples alone, CUE syntax holds."""

from __future__ import annotations

import json
import shutil

import mutagen
import numpy as np
import pytest
import soundfile

from mixbuild.pipeline.specs import SpecError, load
from mixbuild.stages.formats import LOSSY
from testkit.outdir import album_manifest

LOSSY_TARGETS = {"ogg": {"format": "ogg"}, "opus": {"format": "opus"},
                 "mp3": {"format": "mp3", "sample_rate": 44100}}
LOUDNESS_TOLERANCE_LU = 0.5  # the issue's bound; a lossy file may be trimmed ~0.3 dB to hold the ceiling
FFMPEG_TP_TOLERANCE_DB = 0.1  # ffmpeg's true-peak meter oversamples like ours; 0.1 dB covers its filter


def lossy_names() -> list[str]:
    return [name for name in LOSSY_TARGETS if name in LOSSY]


def test_lossy_targets_decode_within_ceiling_and_loudness(project, ffmpeg_meter):
    if not lossy_names():
        pytest.skip("this libsndfile encodes no lossy codec")
    project.spec["targets"] = {name: {"preset": "streaming", **LOSSY_TARGETS[name]} for name in lossy_names()}
    project.save()
    project.build(jobs=2)
    for name in lossy_names():
        out = project.root / "build" / name
        manifest = json.loads(album_manifest(out).read_text())
        assert len(manifest["files"]) == 3 and "cue_sheet" not in manifest  # 2 songs + album, no CUE
        for entry in manifest["files"]:
            path = out / entry["path"]
            info = soundfile.info(str(path))
            assert info.frames > 0 and entry["bit_depth"] is None and entry["subtype"] == LOSSY[name][1]
            lufs, peak = ffmpeg_meter(path)
            assert peak <= -1.0 + FFMPEG_TP_TOLERANCE_DB, (name, entry["path"], peak)
            assert entry["true_peak_dbtp"] <= -1.0
            if entry["track"] is not None:  # track mode: each song to -14 LUFS
                assert lufs == pytest.approx(-14.0, abs=LOUDNESS_TOLERANCE_LU), (name, entry["path"])
        tags = mutagen.File(str(out / f"02 - Two.{name}"))
        if name == "mp3":
            assert str(tags.tags["TIT2"]) == "Two" and str(tags.tags["TRCK"]) == "2/2"
        else:
            assert tags["TITLE"] == ["Two"] and tags["TRACKNUMBER"] == ["2"] and tags["TRACKTOTAL"] == ["2"]


def test_lossy_files_are_identical_across_caches_and_jobs(project):
    if not lossy_names():
        pytest.skip("this libsndfile encodes no lossy codec")
    project.spec["targets"] = {name: {"preset": "streaming", **LOSSY_TARGETS[name]} for name in lossy_names()}
    project.save()
    project.build(jobs=1, out="first")
    shutil.rmtree(project.root / "cache")  # a cold cache: every file encoded again (Ogg serials are random)
    project.build(jobs=2, out="second")
    for name in lossy_names():
        for path in sorted((project.root / "first" / name).iterdir()):
            assert path.read_bytes() == (project.root / "second" / name / path.name).read_bytes(), path


def test_flac_and_aiff_carry_tags_and_bit_depth(project):
    project.spec["targets"] = {"flac": {"preset": "cd", "format": "flac"},
                               "aiff": {"preset": "streaming", "format": "aiff"}}
    project.spec["songs"][0]["isrc"] = "XXA012600001"
    project.save()
    project.build()
    flac = mutagen.File(str(project.root / "build" / "flac" / "01 - One.flac"))
    assert flac["TITLE"] == ["One"] and flac["ISRC"] == ["XXA012600001"] and flac["ALBUM"] == ["Test Album"]
    assert flac["TRACKNUMBER"] == ["1"] and flac["TRACKTOTAL"] == ["2"]
    aiff = mutagen.File(str(project.root / "build" / "aiff" / "01 - One.aiff"))
    assert str(aiff.tags["TIT2"]) == "One" and str(aiff.tags["TSRC"]) == "XXA012600001"
    for target, depth, rate in (("flac", 16, 44100), ("aiff", 24, 48000)):
        manifest = json.loads(album_manifest(project.root / "build" / target).read_text())
        for entry in manifest["files"]:
            info = soundfile.info(str(project.root / "build" / target / entry["path"]))
            assert (entry["bit_depth"], info.samplerate, info.subtype) == (depth, rate, f"PCM_{depth}")
    cue = (project.root / "build" / "flac" / "Test Album.cue").read_text()
    assert 'FILE "Test Album.flac" WAVE' in cue  # CUE knows WAVE/AIFF/MP3/BINARY: WAVE means decoded PCM


def cache_bytes(root):
    """Bytes of the cache's stored objects."""
    return sum(p.stat().st_size for p in (root / "objects").rglob("*") if p.is_file())


def test_tag_only_change_keeps_the_dithered_samples(project):
    project.spec["targets"] = {"cd": {"preset": "cd"}}  # 16-bit with TPDF dither: the seed matters
    project.save()
    project.build()
    before, _ = soundfile.read(str(project.root / "build" / "cd" / "01 - One.wav"), dtype="int16")
    stored = cache_bytes(project.root / "cache")
    project.spec["targets"]["cd"]["tags"] = {"comment": "remastered"}
    project.save()
    report = project.build()
    assert report.rendered == {"one/tagged/cd", "two/tagged/cd", "album/export/cd"}  # no export renders again
    tracks = sum(p.stat().st_size for p in (project.root / "build" / "cd").glob("0*.wav"))
    assert cache_bytes(project.root / "cache") - stored < tracks / 10  # re-tagged WAVs: no copy of their audio
    after, _ = soundfile.read(str(project.root / "build" / "cd" / "01 - One.wav"), dtype="int16")
    assert np.array_equal(before, after)
    assert mutagen.File(str(project.root / "build" / "cd" / "01 - One.wav"))["TXXX:comment"].text == ["remastered"]


def test_twelve_digit_upc_becomes_a_thirteen_digit_cue_catalog(project):
    project.spec["targets"] = {"cd": {"preset": "cd"}}
    project.spec["catalog"] = "012345678905"  # UPC-A
    project.save()
    project.build()
    cue = (project.root / "build" / "cd" / "Test Album.cue").read_text()
    assert "CATALOG 0012345678905\n" in cue


def test_opus_at_a_rate_it_cannot_code_is_a_clear_error(project):
    if "opus" not in LOSSY:
        pytest.skip("this libsndfile has no Opus encoder")
    project.spec["sample_rate"] = 44100
    project.spec["targets"] = {"web": {"preset": "streaming", "format": "opus", "sample_rate": 44100}}
    project.save()
    with pytest.raises(SpecError) as err:
        load(project.path)
    message = str(err.value)
    assert "album.yaml:" in message and "targets.web.sample_rate: opus delivers at 48000 Hz (got 44100)" in message
