"""Large kernel outputs (a stem's audio written block by block, an encoded track) are written into the cache's
scratch/ and moved into objects/: nothing stays behind, after a good render or a failed one; streamed audio is
the .npy np.save would write, and a spliced album file (and a tagged WAV) is kept as its pieces, which make
the delivered file byte for byte."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

import mixbuild.stages.album_export as album_export
from mixbuild.pipeline.cache import Cache
from mixbuild.pipeline.digest import digest_file
from testkit.outdir import album_manifest


def scratch_files(project) -> list:
    return sorted((project.root / "cache" / "scratch").glob("*"))


def test_album_file_is_kept_as_its_tracks_pieces(project):
    report = project.build()
    assert scratch_files(project) == []
    node = next(n for n in report.nodes if n.id == "album/export/streaming")
    cache = Cache(project.root / "cache")
    output = cache.load_json(node.digest)
    folder = project.root / "build" / "streaming"
    album = folder / "Test Album.wav"
    spliced = output["files"]["Test Album.wav"]["spliced"]
    assert digest_file(album) == spliced["digest"]  # the delivered file is the recorded one, byte for byte
    names = ("01 - One.wav", "02 - Two.wav")
    for name in names:  # a tagged track is kept as its pieces too: its tags around its export's PCM
        assert digest_file(folder / name) == output["files"][name]["spliced"]["digest"]
    tracks = {part["blob"] for name in names for part in output["files"][name]["spliced"]["parts"]}
    assert len(tracks) == 2  # one stored file each: the untagged export, whose PCM the tagged track is
    assert {part["blob"] for part in spliced["parts"] if "blob" in part} == tracks  # ranges of the stored tracks
    assert cache.blob_refs(node.digest) >= tracks | {spliced["head"]["blob"], spliced["tail"]["blob"]}
    largest_blob = max(p.stat().st_size for p in cache.layout.root.rglob("*.blob"))
    assert largest_blob < album.stat().st_size  # no copy of the album file in the cache
    manifest = json.loads(album_manifest(folder).read_text())
    assert [e["track"] for e in manifest["files"]] == [1, 2, None]
    assert manifest["files"][2]["sha256"] == hashlib.sha256(album.read_bytes()).hexdigest()


def test_a_failing_kernel_leaves_no_scratch_file(project, monkeypatch):
    def fail(*args, **kwargs):
        raise ValueError("facts refused")

    monkeypatch.setattr(album_export, "assembled_facts", fail)
    with pytest.raises(Exception, match="facts refused"):
        project.build()
    assert scratch_files(project) == []


def test_audio_written_block_by_block_is_stored_by_rename(tmp_path, monkeypatch):
    from mixbuild.pipeline.digest import array_hasher, digest_array, digest_npy_file
    from mixbuild.stages.registry import (ARRAY_HASHER, SCRATCH_FILES, WRITE_BUFFER_BYTES, AudioWriter,
                                          NonFiniteAudio)

    cache = Cache(tmp_path / "cache")
    token, hashing = SCRATCH_FILES.set(cache.scratch_file), ARRAY_HASHER.set(array_hasher)  # as a render does
    try:
        audio = np.random.default_rng(2).standard_normal((100_003, 2))
        audio[20_000:90_000] = 0.0  # silence: holes in the written file
        writer = AudioWriter(audio.shape[0], 2)
        for start in range(0, audio.shape[0], 32_768):
            writer.write(audio[start:start + 32_768])
        written = writer.finish()
        np.save(tmp_path / "plain.npy", audio.astype(np.float32))
        assert written.path.read_bytes() == (tmp_path / "plain.npy").read_bytes()  # np.save's bytes
        assert written.digest == digest_array(audio.astype(np.float32))  # hashed as written
        digest = cache.put_array_file(written.path)  # without it: hashed from the file
        assert digest == written.digest == digest_npy_file(cache.array_path(digest))
        assert not written.path.exists() and cache.check_object(digest)[0] == "ok"

        bad = AudioWriter(4, 2)
        with pytest.raises(NonFiniteAudio):
            bad.write(np.array([[0.0, np.nan]] * 4))
        short = AudioWriter(4, 2)
        short.write(np.zeros((3, 2)))
        # a stream may hand over an empty block (an effect's tail with nothing left), also right after the
        # writer passed its buffer to the file
        flushed = AudioWriter(WRITE_BUFFER_BYTES // 8, 2)
        flushed.write(np.ones((WRITE_BUFFER_BYTES // 8, 2)))  # float32 stereo: the buffer's size, passed on
        flushed.write(np.zeros((0, 2)))
        assert np.array_equal(np.load(flushed.finish().path), np.ones((WRITE_BUFFER_BYTES // 8, 2)))
        with pytest.raises(ValueError, match="3 of 4 frames"):
            short.finish()
    finally:
        SCRATCH_FILES.reset(token)
        ARRAY_HASHER.reset(hashing)


def test_a_short_or_foreign_npy_file_does_not_hash(tmp_path):
    from mixbuild.pipeline.digest import digest_npy_file

    np.save(tmp_path / "x.npy", np.ones((1000, 2), dtype=np.float32))
    data = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "short.npy").write_bytes(data[:-4])
    (tmp_path / "long.npy").write_bytes(data + b"\0")
    np.save(tmp_path / "fortran.npy", np.asfortranarray(np.ones((1000, 2), dtype=np.float32)))
    for name, message in (("short", "short of its header"), ("long", "after the array"), ("fortran", "Fortran")):
        with pytest.raises(ValueError, match=message):
            digest_npy_file(tmp_path / f"{name}.npy")


def test_a_spliced_file_that_no_longer_hashes_right_is_refused(project, tmp_path):
    """Delivery writes a spliced file from its pieces and checks the whole against its recorded digest: a piece
    damaged after the build verified it never ships as the album file."""
    from mixbuild.pipeline import deliver

    report = project.build()
    cache = Cache(project.root / "cache")
    node = next(n for n in report.nodes if n.id == "album/export/streaming")
    entry = cache.load_json(node.digest)["files"]["Test Album.wav"]
    deliver._write_into(cache, entry, tmp_path / "good.wav")
    assert digest_file(tmp_path / "good.wav") == entry["spliced"]["digest"]
    track = cache.blob_path(entry["spliced"]["parts"][0]["blob"])
    damaged = bytearray(track.read_bytes())
    damaged[entry["spliced"]["parts"][0]["offset"] + 10] ^= 0xFF
    track.chmod(0o644)
    track.write_bytes(bytes(damaged))
    with pytest.raises(deliver.DeliveryError, match="no longer make the file"):
        deliver._write_into(cache, entry, tmp_path / "bad.wav")
