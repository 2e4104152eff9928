"""Track-mode loudness by an independent meter, and the bounded tonal-match decision."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mixbuild.pipeline.cache import Cache

FFMPEG_TOLERANCE_DB = 0.1  # ffmpeg's true-peak meter oversamples x4 like ours; 0.1 dB covers its filter


def test_track_mode_each_song_meets_target_by_ffmpeg(make_project, ffmpeg_meter):
    project = make_project("track")
    project.spec["targets"]["broadcast"] = {"preset": "broadcast"}
    project.save()
    report = project.build(jobs=2)
    songs = [Path(o["path"]) for o in report.outputs if Path(o["path"]).name.startswith("0")]
    assert len(songs) == 4
    for path in songs:
        lufs, peak = ffmpeg_meter(path)
        target = {"streaming": -14.0, "broadcast": -23.0}[path.parent.name]
        assert abs(lufs - target) <= 0.5, (path, lufs)
        assert peak <= -1.0 + FFMPEG_TOLERANCE_DB, (path, peak)


def test_tonal_match_moves_songs_toward_the_mean_within_bounds(make_project):
    project = make_project("album")
    project.spec["master"]["tonal_match"] = {"strength": 1.0, "max_db": 1.5}
    project.spec["songs"][1]["stems"]["lead"]["eq"] = [{"type": "high_shelf", "freq_hz": 3000, "gain_db": 9}]
    project.save()
    report = project.build()
    decision = Cache(project.root / "cache").load_json({n.id: n.digest for n in report.nodes}["album/tonal"])
    moves = decision["tonal"]
    assert set(moves) == {"one", "two"}
    # the brighter song is pulled down in the highs, the other up; never past max_db
    assert moves["two"]["high_shelf_db"] < 0 < moves["one"]["high_shelf_db"]
    assert all(abs(v) <= 1.5 for m in moves.values() for v in m.values())
    assert all(np.isclose(v * 10, round(v * 10)) for m in moves.values() for v in m.values())  # 0.1 dB steps
