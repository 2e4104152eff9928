"""The demo album end to end: every deliverable decodes, meets its loudness and true-peak targets by an
independent meter (ffmpeg ebur128), the CD has a frame-exact CUE sheet, album mode keeps relative levels."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from mixbuild.pipeline import api
from mixbuild.pipeline.cache import Cache
from mixbuild.stages.dsp.loudness import integrated_lufs
from testkit.outdir import album_manifest

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo" / "album.yaml"
FFMPEG_TOLERANCE_DB = 0.1  # ffmpeg's true-peak meter oversamples x4 like ours; 0.1 dB covers its filter


@pytest.fixture(scope="session")
def demo_build(demo_stems, tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    report = api.build(DEMO, cache_dir=root / "cache", out_dir=root / "build", jobs=2)
    return root, report


def test_every_deliverable_decodes_and_respects_ceiling(demo_build, ffmpeg_meter):
    root, report = demo_build
    wavs = [Path(o["path"]) for o in report.outputs if o["path"].endswith(".wav")]
    assert len(wavs) == 8  # 3 songs + album file, for 2 targets
    for path in wavs:
        info = soundfile.info(str(path))
        target = path.parent.name
        assert (info.samplerate, info.subtype) == ({"cd": 44100, "streaming": 48000}[target],
                                                  {"cd": "PCM_16", "streaming": "PCM_24"}[target])
        audio, _ = soundfile.read(str(path))
        assert np.isfinite(audio).all() and np.abs(audio).max() > 0.1
        lufs, peak_dbtp = ffmpeg_meter(path)
        assert peak_dbtp <= -1.0 + FFMPEG_TOLERANCE_DB, (path.name, peak_dbtp)
        if path.stem == "First Light":  # album mode: the album as a whole sits at the target
            assert abs(lufs - -14.0) <= 0.5, (path.name, lufs)


def test_demo_in_track_mode_puts_every_song_at_its_target(demo_stems, tmp_path, ffmpeg_meter):
    # the demo album with album_loudness: track, measured by an independent meter (ffmpeg ebur128)
    shutil.copytree(DEMO.parent / "songs", tmp_path / "songs")
    (tmp_path / "stems").symlink_to(demo_stems, target_is_directory=True)
    text = DEMO.read_text()
    assert "album_loudness: album" in text
    (tmp_path / "album.yaml").write_text(text.replace("album_loudness: album", "album_loudness: track"))
    report = api.build(tmp_path / "album.yaml", cache_dir=tmp_path / "cache", out_dir=tmp_path / "build", jobs=2)
    songs = [Path(o["path"]) for o in report.outputs if re.match(r"\d\d - .*\.wav$", Path(o["path"]).name)]
    assert len(songs) == 6  # 3 songs x (streaming, cd)
    for path in songs:
        lufs, peak_dbtp = ffmpeg_meter(path)
        assert abs(lufs - -14.0) <= 0.5, (path.parent.name, path.name, lufs)
        assert peak_dbtp <= -1.0 + FFMPEG_TOLERANCE_DB, (path.parent.name, path.name, peak_dbtp)


def test_album_mode_gives_every_song_the_same_gain(demo_build):
    root, report = demo_build
    cache = Cache(root / "cache")
    digests = {n.id: n.digest for n in report.nodes}
    decision = cache.load_json(digests["album/loudness"])
    for target, rate in (("streaming", 48000), ("cd", 44100)):  # the CD's 44.1 kHz SRC keeps loudness
        moves = []
        for song in ("opening", "night-drive", "last-light"):
            before = integrated_lufs(np.asarray(cache.load_array(digests[f"{song}/master"])), 48000)
            after = integrated_lufs(np.asarray(cache.load_array(digests[f"{song}/final/{target}"])), rate)
            moves.append(after - before)
        # the same gain for every song; the limiter may take a little back from the loudest peaks
        assert max(moves) - min(moves) <= 0.1, moves
        assert abs(np.median(moves) - decision["gain_db"][target]) <= 0.1


def test_cd_cue_sheet_indexes_are_exact_sample_offsets(demo_build):
    root, _ = demo_build
    cd = root / "build" / "cd"
    cue = (cd / "First Light.cue").read_text()
    album, rate = soundfile.read(str(cd / "First Light.wav"), dtype="int16")
    assert rate == 44100
    times = re.findall(r"INDEX 01 (\d\d):(\d\d):(\d\d)", cue)
    tracks = sorted(cd.glob("0? - *.wav"))
    assert len(times) == len(tracks) == 3
    assert "ISRC XXA012600002" in cue and "CATALOG 0123456789012" in cue
    for (mm, ss, ff), track in zip(times, tracks):
        start = ((int(mm) * 60 + int(ss)) * 75 + int(ff)) * 588  # CD frames of 1/75 s
        audio, _ = soundfile.read(str(track), dtype="int16")
        assert np.array_equal(album[start:start + len(audio)], audio), track.name


def test_manifest_lists_every_file_with_measurements(demo_build):
    import hashlib
    root, _ = demo_build
    for target, rate, bits in (("streaming", 48000, 24), ("cd", 44100, 16)):
        out = root / "build" / target
        manifest = json.loads(album_manifest(out).read_text())
        listed = {(f["path"], f["title"], f["track"]) for f in manifest["files"]}
        assert listed == {("01 - Opening.wav", "Opening", 1), ("02 - Night Drive.wav", "Night Drive", 2),
                          ("03 - Last Light.wav", "Last Light", 3), ("First Light.wav", "First Light", None)}
        for entry in manifest["files"]:
            data = (out / entry["path"]).read_bytes()
            info = soundfile.info(str(out / entry["path"]))
            assert entry["sha256"] == hashlib.sha256(data).hexdigest()
            assert entry["duration_s"] == pytest.approx(info.frames / info.samplerate, abs=1e-6)
            assert (entry["sample_rate"], entry["bit_depth"]) == (rate, bits)
            assert entry["true_peak_dbtp"] <= -1.0
        cue = manifest.get("cue_sheet")  # the CD target's CUE sheet is a deliverable too
        if target == "cd":
            assert cue["sha256"] == hashlib.sha256((out / cue["path"]).read_bytes()).hexdigest()
        else:
            assert cue is None


def test_demo_table_lists_song_target_loudness_and_file(demo_build):
    from mixbuild.pipeline.cli import delivery_table
    root, _ = demo_build
    lines = delivery_table(root / "build").splitlines()
    assert lines[0].split() == ["song", "target", "LUFS", "dBTP", "file"]
    assert len(lines) == 1 + 8  # 3 songs and the album file, 2 targets
    cd = json.loads(album_manifest(root / "build" / "cd").read_text())["files"][1]
    row = next(line for line in lines if line.startswith("Night Drive") and " cd " in line)
    assert row.split()[3:5] == [f"{cd['integrated_lufs']:.2f}", f"{cd['true_peak_dbtp']:.2f}"]
    assert row.endswith("cd/02 - Night Drive.wav")
    assert any(line.startswith("First Light (album)") for line in lines)


def test_tags_are_written(demo_build):
    import mutagen
    root, _ = demo_build
    tags = mutagen.File(str(root / "build" / "streaming" / "02 - Night Drive.wav")).tags
    assert str(tags["TIT2"]) == "Night Drive" and str(tags["TSRC"]) == "XXA012600002"
    assert str(tags["TRCK"]) == "2/3" and str(tags["TALB"]) == "First Light"
