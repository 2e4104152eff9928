"""The album file's manifest facts equal a measurement of the delivered file itself."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stages.dsp.truepeak import MIN_SEQUENCE_GAP_FRAMES, sequence_true_peak_dbtp, true_peak_dbtp
from stages.export import file_facts


@pytest.mark.parametrize("gap_s", [2.0, 0.0])  # composed true peak / measured (no silence between tracks)
def test_manifest_facts_match_a_measurement_of_each_delivered_file(project, gap_s):
    # facts are computed from the samples the stages just wrote; decoding the delivered bytes must agree
    for song in project.spec["songs"]:
        song["gap_s"] = gap_s
    project.spec["targets"]["cd"] = {"preset": "cd"}  # 44.1 kHz 16-bit beside the 48 kHz 24-bit streaming
    project.save()
    project.build()
    for target in ("streaming", "cd"):
        out = project.root / "build" / target
        entries = json.loads((out / "manifest.json").read_text())["files"]
        assert len(entries) == 3  # two tracks and the album file
        for entry in entries:
            measured = file_facts((out / entry["path"]).read_bytes())  # decode the bytes, measure everything
            for field in ("sha256", "duration_s", "sample_rate", "channels", "subtype", "integrated_lufs",
                          "lra_lu"):
                assert entry[field] == measured[field], (target, entry["path"], field)
            # the album's composed true peak and a whole-file measurement differ only by float32 FFT
            # rounding (~1e-6 dB): they agree to the reported 0.01 dB unless a value sits on a rounding edge
            assert entry["true_peak_dbtp"] == pytest.approx(measured["true_peak_dbtp"], abs=0.01)


def test_sequence_true_peak_includes_ringing_outside_the_tracks():
    rate = 48000
    rng = np.random.default_rng(0)
    tracks = [rng.standard_normal((rate + 777 * k, 2)) * 0.01 for k in range(3)]
    # a near-Nyquist tone that starts abruptly and fades out smoothly: it rings before it starts, not after
    k = np.arange(2000)
    fade = np.where(k < 20, 1.0, np.where(k < 1020, 0.5 + 0.5 * np.cos(np.pi * (k - 20) / 1000), 0.0))
    tracks[1][:2000] = (0.5 * (-1.0) ** k * fade)[:, None]
    pieces, spans, position = [], [], 0
    for track, gap in zip(tracks, [MIN_SEQUENCE_GAP_FRAMES, 4800, 0]):
        spans.append((position, position + track.shape[0]))
        pieces += [track, np.zeros((gap, 2))]
        position += track.shape[0] + gap
    album = np.concatenate(pieces)
    alone = [true_peak_dbtp(t, rate) for t in tracks]
    assert true_peak_dbtp(album, rate) > max(alone) + 1.0  # the peak is in the pre-ringing, outside every track
    composed = sequence_true_peak_dbtp(album, rate, spans, alone)
    assert composed == pytest.approx(true_peak_dbtp(album, rate), abs=1e-5)  # float32 FFT rounding
    with pytest.raises(ValueError, match="spans: must be >= 64 frames apart"):
        sequence_true_peak_dbtp(album, rate, [(0, 100), (120, 200)], [0.0, 0.0])
