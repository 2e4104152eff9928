"""`mixbuild init STEMS_DIR` (issue 16 item 3): every DAW exports "stems to a folder", and there was no way to
start from one. The spec init writes validates and builds with no edit: an L/R pair is one stereo stem, stems
go onto buses by name, a broadcast-WAV stem sits at its time reference (ffmpeg writes the BWF files)."""

from __future__ import annotations

import shutil

import pytest
import soundfile

from mixbuild.pipeline.specs import load
from testkit.proc import cli
from testkit.stemfolder import session_folder

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg writes the BWF files")
def test_init_writes_a_song_spec_that_builds(tmp_path):
    stems = session_folder(tmp_path / "Session Export")
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
    session_folder(sessions / "01 Opening")
    session_folder(sessions / "02 Closer")
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
