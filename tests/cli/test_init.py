"""`mixbuild init STEMS_DIR` (issue 16 item 3): every DAW exports "stems to a folder", and there was no way to
start from one. The spec init writes validates and builds with no edit: an L/R pair is one stereo stem, stems
go onto buses by name, a broadcast-WAV stem sits at its time reference (ffmpeg writes the BWF files)."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile

from pipeline.specs import load
from testkit.proc import cli

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg writes the BWF files")
SR = 48000


def _wav(path, channels=1, seconds=1.0, freq_hz=220.0, bext_s=None):
    t = np.arange(int(seconds * SR)) / SR
    audio = np.stack([0.2 * np.sin(2 * np.pi * freq_hz * (1 + c / 10) * t) for c in range(channels)], axis=1)
    soundfile.write(str(path), audio, SR, subtype="PCM_24")
    if bext_s is not None:
        stamped = path.with_name("stamped.wav")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(path), "-c:a", "pcm_s24le", "-write_bext", "1",
                        "-metadata", f"time_reference={round(bext_s * SR)}", str(stamped)], check=True)
        stamped.replace(path)


def _session(folder):
    folder.mkdir(parents=True)
    _wav(folder / "Kick.L.wav")
    _wav(folder / "Kick.R.wav", freq_hz=230.0)
    _wav(folder / "Snare.wav", freq_hz=300.0)
    _wav(folder / "OH.wav", channels=2)
    _wav(folder / "Lead Vox.wav", freq_hz=440.0, bext_s=3600.0)
    _wav(folder / "BV_1.wav", freq_hz=550.0, bext_s=3602.0)
    _wav(folder / "Bass DI.wav", freq_hz=55.0)
    _wav(folder / "Ambisonic.wav", channels=4)
    (folder / "notes.txt").write_text("session notes")
    return folder


def test_init_writes_a_song_spec_that_builds(tmp_path):
    stems = _session(tmp_path / "Session Export")
    spec = tmp_path / "song.yaml"
    result = cli("init", stems, "-o", spec)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "skipped Ambisonic.wav: 4 channels (a stem is mono or stereo)"
    assert result.stdout.strip() == f"wrote {spec}: 1 song(s), 6 stem(s); next: mixbuild build {spec}"
    song = load(spec).songs[0]
    assert song.title == "Session Export"
    assert {n: (s.output, s.offset_s, s.right_file is not None) for n, s in song.stems.items()} == {
        "Kick": ("drums", 0.0, True), "Snare": ("drums", 0.0, False), "OH": ("drums", 0.0, False),
        "Lead_Vox": ("vocals", 0.0, False), "BV_1": ("vocals", 2.0, False), "Bass_DI": (None, 0.0, False)}
    assert set(song.buses) == {"drums", "vocals"}
    assert spec.read_text().startswith("# Written by `mixbuild init`")
    built = cli("build", spec, "--cache", tmp_path / "cache", "--out", tmp_path / "out", "-j", "1")
    assert built.returncode == 0, built.stderr
    assert soundfile.info(str(tmp_path / "out" / "streaming" / "01 - Session Export.wav")).duration >= 3.0


def test_init_writes_an_album_for_a_folder_of_song_folders_and_never_overwrites(tmp_path):
    sessions = tmp_path / "Album Stems"
    _session(sessions / "01 Opening")
    _session(sessions / "02 Closer")
    spec = tmp_path / "album.yaml"
    assert cli("init", sessions, "-o", spec).returncode == 0
    album = load(spec)
    assert album.title == "Album Stems" and [s.title for s in album.songs] == ["01 Opening", "02 Closer"]
    again = cli("init", sessions, "-o", spec)
    assert again.returncode == 2
    assert again.stderr.strip() == f"init: {spec}: exists; choose another with -o, or --force to replace it"
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = cli("init", empty, "-o", tmp_path / "x.yaml")
    assert nothing.returncode == 2 and "holds no audio files" in nothing.stderr
