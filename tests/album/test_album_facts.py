"""The album file is its tracks and gaps, sample for sample; its manifest facts, assembled from the
tracks' own measurements, agree with a measurement of the delivered file."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import soundfile

from mixbuild.stages.dsp.loudness import measure, sequence_loudness
from mixbuild.stages.dsp.truepeak import MIN_SEQUENCE_GAP_FRAMES, edge_ringing, sequence_true_peak_dbtp, true_peak_dbtp
from mixbuild.stages.export import file_facts
from testkit.outdir import album_manifest

ALBUM_LUFS_TOLERANCE = 0.03
"""Integrated loudness of the album file, assembled vs measured: a track off the file's 100 ms block grid
moves by under half a step (measured: 0.025 LU for 5 s songs, under 0.01 LU from a minute on); Tech 3341
asks a meter for +-0.1 LU."""
ALBUM_LRA_TOLERANCE = 0.05
"""LRA, likewise (measured: under 0.05 LU); Tech 3342 asks a meter for +-1 LU."""


@pytest.mark.parametrize("gap_s", [2.0, 0.0])  # composed true peak / measured (no silence between tracks)
def test_manifest_facts_match_a_measurement_of_each_delivered_file(project, gap_s):
    for song in project.spec["songs"]:
        song["gap_s"] = gap_s
    project.spec["targets"]["cd"] = {"preset": "cd"}  # 44.1 kHz 16-bit beside the 48 kHz 24-bit streaming
    project.save()
    project.build()
    for target in ("streaming", "cd"):
        out = project.root / "build" / target
        entries = json.loads(album_manifest(out).read_text())["files"]
        assert len(entries) == 3  # two tracks and the album file
        for entry in entries:
            measured = file_facts((out / entry["path"]).read_bytes())  # decode the bytes, measure everything
            for field in ("sha256", "duration_s", "sample_rate", "channels", "subtype", "bit_depth"):
                assert entry[field] == measured[field], (target, entry["path"], field)
            if entry["track"] is not None:  # a track's facts are a measurement of its own samples
                assert (entry["integrated_lufs"], entry["lra_lu"]) == (measured["integrated_lufs"], measured["lra_lu"])
            else:
                assert entry["integrated_lufs"] == pytest.approx(measured["integrated_lufs"], abs=ALBUM_LUFS_TOLERANCE)
                assert entry["lra_lu"] == pytest.approx(measured["lra_lu"], abs=ALBUM_LRA_TOLERANCE)
            # the album's composed true peak and a whole-file measurement differ only by float32 FFT
            # rounding (~1e-6 dB): they agree to the reported 0.01 dB unless a value sits on a rounding edge
            assert entry["true_peak_dbtp"] == pytest.approx(measured["true_peak_dbtp"], abs=0.01)


def test_album_file_is_its_tracks_and_gaps_sample_for_sample(project):
    project.spec["songs"][0]["gap_s"] = 1.3
    project.spec["targets"]["cd"] = {"preset": "cd"}  # CUE sheet: each track padded to a CD frame
    project.spec["targets"]["float"] = {"preset": "streaming", "bit_depth": "32f"}  # written by libsndfile
    project.save()
    project.build()
    for target, rate, dtype in (("streaming", 48000, "int32"), ("cd", 44100, "int16"), ("float", 48000, "float32")):
        out = project.root / "build" / target
        album_name = next(e["path"] for e in json.loads(album_manifest(out).read_text())["files"]
                          if e["track"] is None)
        album, album_rate = soundfile.read(str(out / album_name), dtype=dtype)
        tracks = [soundfile.read(str(path), dtype=dtype)[0] for path in sorted(out.glob("0? - *"))]
        gap = int(round(1.3 * rate))
        lengths = [tracks[0].shape[0] + gap, tracks[1].shape[0]]
        if target == "cd":
            lengths = [-(-n // 588) * 588 for n in lengths]
            starts = [int(mm) * 60 * 75 + int(ss) * 75 + int(ff) for mm, ss, ff in
                      re.findall(r"INDEX 01 (\d\d):(\d\d):(\d\d)", (out / "Test Album.cue").read_text())]
            assert [s * 588 for s in starts] == [0, lengths[0]]
        expected = np.concatenate([np.concatenate([t, np.zeros((n - t.shape[0], 2), dtype)])
                                   for t, n in zip(tracks, lengths)])
        assert album_rate == rate and album.shape == expected.shape
        assert np.array_equal(album, expected), target


def test_sequence_loudness_agrees_with_a_measurement_of_the_sequence():
    rate = 44100
    rng = np.random.default_rng(3)

    def song(seconds: float) -> np.ndarray:  # noise with a slow swell and quiet passages: a real LRA
        t = np.arange(int(seconds * rate)) / rate
        level = (0.3 + 0.7 * np.sin(2 * np.pi * t / 7) ** 2) * np.where(t % 13 < 1.5, 0.05, 1.0)
        return rng.standard_normal((t.size, 2)) * 0.1 * level[:, None]

    for seconds in (5.0, 60.0):
        for gap_s in (2.0, 0.5, 0.0):
            tracks = [song(seconds + 1.37 * k) for k in range(3)]
            gap = int(gap_s * rate)
            starts = [sum(t.shape[0] + gap for t in tracks[:k]) for k in range(3)]
            album = np.zeros((starts[-1] + tracks[-1].shape[0], 2))
            for start, track in zip(starts, tracks):
                album[start:start + track.shape[0]] = track
            integrated, lra = sequence_loudness(
                starts, [measure(t, rate, true_peak=False).segment_energies for t in tracks], album.shape[0], rate)
            whole = measure(album, rate, true_peak=False)
            assert integrated == pytest.approx(whole.integrated_lufs, abs=ALBUM_LUFS_TOLERANCE), (seconds, gap_s)
            assert lra == pytest.approx(whole.lra_lu, abs=ALBUM_LRA_TOLERANCE), (seconds, gap_s)


def compose(tracks: list[np.ndarray], gaps: list[int], rate: int) -> tuple[np.ndarray, float]:
    """The tracks sequenced with silence, and their true peak composed from each one's own measures."""
    pieces, spans, position = [], [], 0
    for track, gap in zip(tracks, gaps):
        spans.append((position, position + track.shape[0]))
        pieces += [track, np.zeros((gap, track.shape[1]), track.dtype)]
        position += track.shape[0] + gap
    album = np.concatenate(pieces)
    peaks = [10.0 ** (true_peak_dbtp(t, rate) / 20.0) for t in tracks]
    return album, sequence_true_peak_dbtp(spans, album.shape[0], peaks, [edge_ringing(t, rate) for t in tracks])


def test_sequence_true_peak_equals_a_measurement_of_the_sequence():
    rate = 48000
    rng = np.random.default_rng(1)
    tracks = [rng.standard_normal((rate // 3 + 101 * k, 2)).astype(np.float32) * 0.3 for k in range(3)]
    tracks.append(rng.standard_normal((10, 2)).astype(np.float32))  # shorter than an interpolator window
    album, composed = compose(tracks, [MIN_SEQUENCE_GAP_FRAMES, 500, 100, 7], rate)
    assert composed == pytest.approx(true_peak_dbtp(album, rate), abs=1e-9)
    single, composed = compose(tracks[:1], [0], rate)  # one track: no ringing lies inside the file
    assert composed == pytest.approx(true_peak_dbtp(single, rate), abs=1e-9)


def test_sequence_true_peak_includes_ringing_outside_the_tracks():
    rate = 48000
    rng = np.random.default_rng(0)
    tracks = [rng.standard_normal((rate + 777 * k, 2)) * 0.01 for k in range(3)]
    # a near-Nyquist tone that starts abruptly and fades out smoothly: it rings before it starts, not after
    k = np.arange(2000)
    fade = np.where(k < 20, 1.0, np.where(k < 1020, 0.5 + 0.5 * np.cos(np.pi * (k - 20) / 1000), 0.0))
    tracks[1][:2000] = (0.5 * (-1.0) ** k * fade)[:, None]
    album, composed = compose(tracks, [MIN_SEQUENCE_GAP_FRAMES, 4800, 0], rate)
    alone = [true_peak_dbtp(t, rate) for t in tracks]
    assert true_peak_dbtp(album, rate) > max(alone) + 1.0  # the peak is in the pre-ringing, outside every track
    assert composed == pytest.approx(true_peak_dbtp(album, rate), abs=1e-5)  # float32 FFT rounding
    with pytest.raises(ValueError, match="spans: must be >= 64 frames apart"):
        sequence_true_peak_dbtp([(0, 100), (120, 200)], 200, [0.1, 0.1], [([0.0], [0.0])] * 2)
