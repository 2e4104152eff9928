"""A stem with a DC offset (issue 15 item 5): one with 0.5 DC was delivered as DC at -34 LUFS on a -14 target,
exit 0 and no word. Now its build says so on every build (cached or not), and the master's `dc_filter_hz`
removes the offset so that loudness lands on target."""

from __future__ import annotations

import json

import numpy as np
import soundfile

from mixbuild.stages.stem import DC_OFFSET_NOTE_DBFS
from testkit.proc import build

WARNING = ("warning: one/stem/bass: {path}: channel 1 has a DC offset of {mean:+.4f} ({dbfs:.1f} dBFS), which takes "
           "the master's headroom and loudness; remove it at the source, or set the master's dc_filter_hz")


def _with_dc(project):
    """Add 0.5 DC to song one's bass; the warning its build should give."""
    path = project.root / "stems" / "one-bass.wav"
    audio, rate = soundfile.read(str(path))
    soundfile.write(str(path), audio + 0.5, rate, subtype="PCM_24")
    mean = soundfile.read(str(path))[0].mean()  # the file's own mean, read back independently
    return WARNING.format(path=path, mean=mean, dbfs=20 * np.log10(mean))


def _warnings(proc):
    return [line for line in proc.stderr.splitlines() if line.startswith("warning:")]


def test_a_clean_album_has_no_warning(project, tmp_path):
    proc = build(project.path, project.root / "cache", tmp_path / "out", jobs=1)
    assert proc.returncode == 0 and _warnings(proc) == []
    assert json.loads((tmp_path / "out" / "build-report.json").read_text())["warnings"] == []


def test_a_dc_offset_is_named_on_every_build_and_the_dc_filter_removes_it(project, tmp_path, ffmpeg_meter):
    expected = _with_dc(project)
    out = tmp_path / "out"
    for _ in range(2):  # rendered, then served from the cache: the same word both times
        proc = build(project.path, project.root / "cache", out, jobs=1)
        assert proc.returncode == 0 and _warnings(proc) == [expected]
    assert json.loads((out / "build-report.json").read_text())["warnings"] == [expected.removeprefix("warning: ")]
    track = out / "streaming" / "01 - One.wav"
    offset_before = abs(soundfile.read(str(track))[0].mean())
    lufs_before, _ = ffmpeg_meter(track)

    project.spec["master"]["dc_filter_hz"] = 5.0
    project.save()
    assert build(project.path, project.root / "cache", out, jobs=1).returncode == 0
    delivered, _ = soundfile.read(str(track))
    lufs, peak = ffmpeg_meter(track)
    # below the note's own -40 dBFS: what is left is the music's asymmetry and the step where the stem ends
    assert offset_before > 0.05 and abs(delivered.mean()) < 10 ** (DC_OFFSET_NOTE_DBFS / 20)
    assert abs(lufs - -14.0) <= 0.5 < abs(lufs_before - -14.0), (lufs_before, lufs)
    assert peak <= -1.0 + 0.2
