"""Broadcast-WAV start times (issue 16 item 4): a stem whose bext chunk says it starts at 4.0 s was placed at 0.
The time reference is read by `stages.wav.bext_start_s` and checked against files ffmpeg writes (an
independent BWF writer); a stem without its own offset_s is placed at its time reference, relative to the song's
start_s (default: the earliest stem's)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import soundfile

from mixbuild.pipeline import api
from mixbuild.pipeline.specs import SpecError, load
from mixbuild.stages.wav import bext_start_s

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg writes the BWF files")


def bwf(source, dest, time_reference: int | None, codec: str = "pcm_s24le"):
    """`source` re-written by ffmpeg, with a bext chunk carrying `time_reference` (samples) unless None."""
    bext = ["-write_bext", "1", "-metadata", f"time_reference={time_reference}"] if time_reference is not None else []
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), "-c:a", codec, *bext, str(dest)], check=True)
    return dest


@pytest.mark.parametrize(("rate_hz", "samples", "seconds"), [(48000, 192000, 4.0), (44100, 176400, 4.0),
                                                              (48000, 48000 * 3600 * 13, 13 * 3600.0)])
def test_the_time_reference_over_the_files_rate(tmp_path, rate_hz, samples, seconds):
    source = tmp_path / "tone.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"sine=frequency=440:duration=0.5:sample_rate={rate_hz}",
                    str(source)], check=True)
    assert bext_start_s(bwf(source, tmp_path / "bwf.wav", samples)) == seconds
    assert bext_start_s(bwf(source, tmp_path / "plain.wav", None)) is None
    assert bext_start_s(bwf(source, tmp_path / "tone.flac", None, "flac")) is None


def _stamp(project, stem: str, seconds: float):
    path = project.root / "stems" / f"one-{stem}.wav"
    stamped = bwf(path, path.with_name(f"bwf-{path.name}"), round(seconds * 48000))
    stamped.replace(path)


def _offsets(project):
    song = load(project.path).songs[0]
    return {name: stem.offset_s for name, stem in song.stems.items()}


def test_stems_are_placed_at_their_time_references_relative_to_the_earliest(project):
    _stamp(project, "kick", 3600.0)  # an hour into the session: the song starts there
    _stamp(project, "bass", 3602.5)
    assert _offsets(project) == {"kick": 0.0, "bass": 2.5, "lead": 0.0}  # lead has no bext: the song's start
    length_s = soundfile.info(str(project.build().outputs[0]["path"])).duration
    assert length_s >= 4.5  # the 2-s bass now ends at 4.5 s (it ended at 2 s)


def test_an_explicit_offset_and_a_song_start(project):
    _stamp(project, "kick", 3600.0)
    _stamp(project, "bass", 3602.5)
    project.spec["songs"][0]["stems"]["bass"]["offset_s"] = 1.0
    project.spec["songs"][0]["start_s"] = 3599.0
    project.save()
    assert _offsets(project) == {"kick": 1.0, "bass": 1.0, "lead": 0.0}
    project.spec["songs"][0]["start_s"] = 3601.0
    project.save()
    with pytest.raises(SpecError) as err:
        load(project.path)
    line = project.path.read_text().splitlines().index("      file: stems/one-kick.wav") + 1
    assert [str(p) for p in err.value.problems] == [
        f"{project.path}:{line}: songs.0.stems.kick.file: its broadcast-WAV time reference places it at 3600.000 s, "
        "before the song's start_s 3601.000 s (lower start_s, or give the stem an offset_s)"]


def test_moving_the_song_start_re_renders_the_placed_stems_only(project):
    _stamp(project, "kick", 3600.0)
    _stamp(project, "bass", 3602.5)
    project.build()
    project.spec["songs"][0]["start_s"] = 3599.0
    project.save()
    stems = {i: e.reasons for i, e in project.plan().items() if "/stem/" in i and e.status == "render"}
    assert stems == {"one/stem/kick": ["params changed: offset_s"], "one/stem/bass": ["params changed: offset_s"]}
