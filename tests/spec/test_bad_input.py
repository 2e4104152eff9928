"""One test per class of bad input: exit 2, one line per problem naming file, line, field and what is allowed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mixbuild.pipeline.cli import app

LINE = re.compile(r"^(?P<file>[^:]+?)(:(?P<line>\d+))?: (?P<field>\S+): (?P<message>.+)$")


def validate(spec: Path) -> list[dict]:
    """Run `mixbuild validate`; assert exit 2 and no traceback; parse each problem line."""
    result = CliRunner().invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    parsed = [LINE.match(ln) for ln in lines]
    assert all(parsed), lines
    return [m.groupdict() for m in parsed]


def only(problems: list[dict]) -> dict:
    assert len(problems) == 1, problems
    return problems[0]


def song_album(tmp_path: Path, stem_file: Path, song_body: str, album_extra: str = "") -> Path:
    """An album file plus one song file; returns the album path."""
    (tmp_path / "song.yaml").write_text(song_body.replace("STEM", str(stem_file)))
    album = tmp_path / "album.yaml"
    album.write_text(f"title: T\nsongs: [song.yaml]\n{album_extra}")
    return album


def test_bad_yaml_syntax(tmp_path):
    spec = tmp_path / "a.yaml"
    spec.write_text("title: T\nsongs:\n  - [unclosed\n")
    p = only(validate(spec))
    assert p["file"] == str(spec) and p["line"] and "invalid YAML" in p["message"]


def test_bad_toml_syntax(tmp_path):
    spec = tmp_path / "a.toml"
    spec.write_text('title = "T"\nsongs = [\n"x" "y"]\n')
    p = only(validate(spec))
    assert p["line"] == "3" and "invalid TOML" in p["message"]


def test_bad_json_syntax(tmp_path):
    spec = tmp_path / "a.json"
    spec.write_text('{"title": "T",\n "songs": [}\n')
    p = only(validate(spec))
    assert p["line"] == "2" and "invalid JSON" in p["message"]


@pytest.mark.parametrize("body, name", [(b"", "empty file"), (b"\x00\x01\x02binary", "binary file")])
def test_empty_and_binary_files(tmp_path, body, name):
    spec = tmp_path / "a.yaml"
    spec.write_bytes(body)
    assert name in only(validate(spec))["message"]


def test_missing_file_and_directory(tmp_path):
    assert "file not found" in only(validate(tmp_path / "nope.yaml"))["message"]
    folder = tmp_path / "dir.yaml"
    folder.mkdir()
    assert "is a directory" in only(validate(folder))["message"]


def test_wrong_type_names_song_file_line_and_field(tmp_path, tiny_wav):
    album = song_album(tmp_path, tiny_wav, "title: S\nstems:\n  kick:\n    file: STEM\n    gain_db: loud\n")
    p = only(validate(album))
    assert p["file"] == str(tmp_path / "song.yaml")  # the song file, not the album
    assert (p["line"], p["field"]) == ("5", "stems.kick.gain_db")
    assert "must be a number" in p["message"] and "'loud'" in p["message"]


def test_out_of_range_states_the_bound(tmp_path, tiny_wav):
    album = song_album(tmp_path, tiny_wav, "title: S\nstems:\n  kick: {file: STEM, compressor: {ratio: 0.5}}\n")
    p = only(validate(album))
    assert p["field"] == "stems.kick.compressor.ratio" and p["line"] == "3"
    assert "must be >= 1" in p["message"] and "(got 0.5)" in p["message"]


def test_unknown_key_lists_allowed_fields(tmp_path, tiny_wav):
    album = song_album(tmp_path, tiny_wav, "title: S\nstems:\n  kick: {file: STEM, eq: [{type: peak, freq_hz: 100, gian_db: 3}]}\n")
    p = only(validate(album))
    assert p["field"] == "stems.kick.eq.0.gian_db"
    assert "unknown field; allowed: freq_hz, gain_db, q, type" in p["message"]


def test_broken_reference_names_the_buses(tmp_path, tiny_wav):
    album = song_album(tmp_path, tiny_wav,
                       "title: S\nstems:\n  kick: {file: STEM, output: drumz}\nbuses:\n  drums: {}\n")
    p = only(validate(album))
    assert (p["line"], p["field"]) == ("3", "stems.kick.output")
    assert "one of the song's buses (drums)" in p["message"] and "'drumz'" in p["message"]


def test_routing_cycle_is_named(tmp_path, tiny_wav):
    album = song_album(tmp_path, tiny_wav, "title: S\nstems:\n  kick: {file: STEM, output: a}\n"
                       "buses:\n  a: {output: b}\n  b: {sends: {c: -6}}\n  c: {output: a}\n")
    p = only(validate(album))
    assert p["field"] == "buses.a" and "routing cycle: a -> b -> c -> a" in p["message"]


def test_stem_file_missing_or_not_audio(tmp_path):
    fake = tmp_path / "fake.wav"
    fake.write_text("this is not audio")
    album = song_album(tmp_path, fake, "title: S\nstems:\n  a: {file: STEM}\n  b: {file: missing.wav}\n")
    problems = {p["field"]: p for p in validate(album)}
    assert "does not decode as audio" in problems["stems.a.file"]["message"]
    assert "audio file not found" in problems["stems.b.file"]["message"]
    assert problems["stems.b.file"]["line"] == "4"


def test_song_file_missing_points_at_album_line(tmp_path):
    spec = tmp_path / "album.yaml"
    spec.write_text("title: T\nsongs:\n  - a.yaml\n  - missing.yaml\n")
    (tmp_path / "a.yaml").write_text("title: A\nstems: {}\n")
    problems = validate(spec)
    missing = next(p for p in problems if p["field"] == "songs.1")
    assert missing["file"] == str(spec) and missing["line"] == "4" and "song file not found" in missing["message"]
    empty = next(p for p in problems if p["field"] == "stems")
    assert empty["file"] == str(tmp_path / "a.yaml") and "at least 1" in empty["message"]


def test_duplicate_target_names(tmp_path, tiny_wav):
    album = song_album(tmp_path, tiny_wav, "title: S\nstems:\n  a: {file: STEM}\n",
                       "targets:\n  cd: {preset: cd}\n  cd: {preset: streaming}\n")
    p = only(validate(album))
    assert (p["field"], p["line"]) == ("targets.cd", "5") and "duplicate key" in p["message"]


def test_eq_band_above_045_fs(tmp_path, tiny_wav):
    album = song_album(tmp_path, tiny_wav, "title: S\nstems:\n  a: {file: STEM, eq: [{type: lowpass, freq_hz: 22000}]}\n")
    p = only(validate(album))
    assert p["field"] == "stems.a.eq.0.freq_hz" and "must be < 21600" in p["message"]


def test_sample_rate_outside_standard_set(tmp_path, tiny_wav):
    album = song_album(tmp_path, tiny_wav, "title: S\nstems:\n  a: {file: STEM}\n", "sample_rate: 47000\n")
    p = only(validate(album))
    assert p["field"] == "sample_rate" and "44100, 48000" in p["message"]


def test_delay_in_beats_needs_tempo(tmp_path, tiny_wav):
    album = song_album(tmp_path, tiny_wav, "title: S\nstems:\n  a: {file: STEM, sends: {echo: -6}}\n"
                       "buses:\n  echo: {delay: {beats: 0.5}}\n")
    p = only(validate(album))
    assert p["field"] == "buses.echo.delay.beats" and "tempo_bpm" in p["message"]


def test_yaml_object_tags_are_refused(tmp_path):
    spec = tmp_path / "a.yaml"
    spec.write_text("title: !!python/object/apply:os.system ['echo pwned']\nsongs: []\n")
    p = only(validate(spec))
    assert "invalid YAML" in p["message"] and p["line"] == "1"


def test_real_entry_point_never_prints_a_traceback(tmp_path):
    spec = tmp_path / "a.json"
    spec.write_text("[1, 2")
    proc = subprocess.run([sys.executable, "-c", "from mixbuild.pipeline.cli import main; main()", "validate", str(spec)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and str(spec) in proc.stderr


def test_flac_cannot_hold_float(tmp_path, tiny_wav):
    album = song_album(tmp_path, tiny_wav, "title: S\nstems:\n  a: {file: STEM}\n",
                       "targets:\n  hires: {format: flac, bit_depth: 32f}\n")
    p = only(validate(album))
    assert p["field"] == "targets.hires" and "flac cannot hold 32-bit float" in p["message"]


def test_song_id_album_is_reserved(tmp_path, tiny_wav):
    """`album/...` node ids belong to the album: a song with id `album` would collide with album/tonal."""
    album = song_album(tmp_path, tiny_wav, "title: S\nid: album\nstems:\n  a: {file: STEM}\n")
    p = only(validate(album))
    assert p["field"] == "id" and "reserved" in p["message"]


def test_a_one_song_spec_named_album_yaml_takes_its_titles_id(tmp_path, tiny_wav):
    """`mixbuild init` writes album.yaml by default; a one-song spec of that name would take the reserved id
    `album` from its file name and fail to load. It takes its title's slug instead (and `song` failing that)."""
    from mixbuild.pipeline.specs import load

    spec = tmp_path / "album.yaml"
    spec.write_text(f"title: Session Export\nstems:\n  a: {{file: {tiny_wav}}}\n")
    assert [song.id for song in load(spec).songs] == ["session-export"]
    spec.write_text(f"title: Album\nstems:\n  a: {{file: {tiny_wav}}}\n")
    assert [song.id for song in load(spec).songs] == ["song"]
    (tmp_path / "one.yaml").write_text(f"title: Album\nstems:\n  a: {{file: {tiny_wav}}}\n")
    assert [song.id for song in load(tmp_path / "one.yaml").songs] == ["one"]  # other names keep the file's
