"""A 16/24-bit WAV album file is spliced from its tracks' PCM bytes: the same file, byte for byte, as
libsndfile writes from the decoded frames (which other formats still go through)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

import mixbuild.stages.album_export as album_export
from mixbuild.stages import wav
from mixbuild.stages.album_export import AlbumExportParams, TrackInfo, write_sequence
from mixbuild.stages.export import tag_file
from mixbuild.stages.wav import data_chunk


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
def test_spliced_album_equals_libsndfiles_and_its_tracks(tmp_path, monkeypatch, subtype):
    rng = np.random.default_rng(7)
    tracks = []
    for number in range(3):
        path = tmp_path / f"{number}.wav"
        soundfile.write(str(path), rng.standard_normal((48000 + 777 * number, 2)) * 0.1, 48000, subtype=subtype)
        tag_file(path, "wav", {"title": f"track {number}"})  # an ID3 chunk after the data, as delivered
        tracks.append(path)
    params = AlbumExportParams(target="t", format="wav", sample_rate_hz=48000, album_title="a",
                               tracks=[TrackInfo(title=str(n)) for n in range(3)])
    lengths = [soundfile.info(str(t)).frames + gap for t, gap in zip(tracks, (96000, 1001, 0))]
    spliced, splice = [], wav.splice_pcm
    monkeypatch.setattr(wav, "splice_pcm", lambda *args: spliced.append(splice(*args)))
    write_sequence(tmp_path / "spliced.wav", params, tracks, lengths)
    assert len(spliced) == 1
    monkeypatch.setattr(album_export, "SPLICED_SUBTYPES", {})  # the block-by-block libsndfile path
    write_sequence(tmp_path / "written.wav", params, tracks, lengths)
    assert (tmp_path / "spliced.wav").read_bytes() == (tmp_path / "written.wav").read_bytes()
    album, _ = soundfile.read(str(tmp_path / "spliced.wav"), dtype="int32")
    position = 0
    for track, length in zip(tracks, lengths):
        audio, _ = soundfile.read(str(track), dtype="int32")
        assert np.array_equal(album[position:position + len(audio)], audio)
        assert not album[position + len(audio):position + length].any()
        position += length
    assert position == len(album)


def test_data_chunk_refuses_what_is_not_wave(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"RIFF\x04\x00\x00\x00AIFF")
    with pytest.raises(ValueError, match="not a RIFF/WAVE file"):
        data_chunk(tmp_path / "x.wav")


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
def test_album_file_kept_as_pieces_makes_the_written_and_tagged_file(tmp_path, subtype):
    """What the cache keeps of an album file (its header, its tracks' PCM ranges, silence, its tags) makes,
    byte for byte, the file write_sequence then tag_file write, and the sha256 the manifest gives is its."""
    import hashlib

    from mixbuild.stages.album_export import spliced_album, splice_frame_bytes

    rng = np.random.default_rng(8)
    tracks = []
    for number in range(3):
        path = tmp_path / f"{number}.wav"
        soundfile.write(str(path), rng.standard_normal((44100 + 588 * number, 2)) * 0.1, 44100, subtype=subtype)
        tag_file(path, "wav", {"title": f"track {number}"})
        tracks.append(path)
    params = AlbumExportParams(target="t", format="wav", sample_rate_hz=44100, album_title="a",
                               tracks=[TrackInfo(title=str(n)) for n in range(3)])
    lengths = [soundfile.info(str(t)).frames + gap for t, gap in zip(tracks, (88200, 1176, 0))]
    tags = {"album": "An Album", "artist": "Someone"}
    write_sequence(tmp_path / "written.wav", params, tracks, lengths)
    tag_file(tmp_path / "written.wav", "wav", tags)
    frame_bytes = splice_frame_bytes(params, tracks, lengths)
    assert frame_bytes == (4 if subtype == "PCM_16" else 6)
    pieces, sha256 = spliced_album(tmp_path / "skeleton.wav", params, tracks, lengths, frame_bytes, tags)
    made = b"".join(bytes(block) for block in pieces.blocks())
    written = (tmp_path / "written.wav").read_bytes()
    assert made == written and sha256 == hashlib.sha256(written).hexdigest()
    assert (tmp_path / "skeleton.wav").stat().st_blocks * 512 < len(written) // 4  # its data is a hole


@pytest.mark.parametrize("frames", [44100, 44101])
def test_tagged_wav_kept_as_pieces_makes_the_copied_and_tagged_file(tmp_path, frames):
    """A tagged WAV kept as pieces (tagged head and tail around the export's PCM range) makes, byte for byte,
    the file a copy of the export tagged by mutagen is, with its sha256; an odd data size keeps its pad byte."""
    import hashlib
    import shutil

    from mixbuild.stages.tagged import wav_pieces

    export = tmp_path / "export.wav"
    soundfile.write(str(export), np.random.default_rng(9).standard_normal(frames) * 0.1, 44100, subtype="PCM_24")
    assert data_chunk(export)[1] % 2 == frames % 2  # mono 24-bit: an odd frame count is an odd data size
    tags = {"title": "One", "artist": "Someone", "comment": "take 2"}
    shutil.copyfile(export, tmp_path / "copied.wav")
    tag_file(tmp_path / "copied.wav", "wav", tags)
    pieces, sha256 = wav_pieces(export, tmp_path / "skeleton.wav", tags)
    made = b"".join(bytes(block) for block in pieces.blocks())
    copied = (tmp_path / "copied.wav").read_bytes()
    assert made == copied and sha256 == hashlib.sha256(copied).hexdigest()
    assert [part[0] for part in pieces.parts] == [export]  # the audio is the export's, not a copy
    assert (tmp_path / "skeleton.wav").stat().st_blocks * 512 < len(copied) // 4  # its data is a hole
