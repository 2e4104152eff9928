"""Every example spec in configs/ validates, and `mixbuild validate` says so with exit 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mixbuild.pipeline.cli import app
from mixbuild.pipeline.specs import load

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

EXAMPLES = sorted(p for p in CONFIGS.rglob("*") if p.suffix in {".yaml", ".yml", ".toml", ".json"}
                  and "songs" not in p.parts and "stems" not in p.parts)


def test_examples_found():
    assert {p.name for p in EXAMPLES} >= {"album.yaml", "song.toml"}


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_example_validates(spec, demo_stems):
    result = CliRunner().invoke(app, ["validate", str(spec), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["valid"] is True


def test_demo_album_shape(demo_stems):
    album = load(CONFIGS / "demo" / "album.yaml")
    assert [s.id for s in album.songs] == ["opening", "night-drive", "last-light"]
    assert all(6 <= len(s.stems) <= 10 for s in album.songs)
    assert any(bus.reverb for s in album.songs for bus in s.buses.values())
    assert any(stem.automation for s in album.songs for stem in s.stems.values())
    assert len(album.targets) >= 2
    # presets fill what a target leaves out; its own fields override
    assert album.targets["cd"].sample_rate == 44100 and album.targets["cd"].bit_depth == 16
    assert album.targets["streaming"].target_lufs == -14.0
    # a song's own master overrides the album's
    last = album.songs[2]
    assert album.master_for(last).compressor.ratio == 1.8
    assert album.master_for(album.songs[0]).compressor.ratio == 1.5


def test_schema_is_json(demo_stems):
    for kind in ("album", "song"):
        result = CliRunner().invoke(app, ["schema", kind])
        assert result.exit_code == 0
        schema = json.loads(result.stdout)
        assert schema["additionalProperties"] is False
    bad = CliRunner().invoke(app, ["schema", "nope"])
    assert bad.exit_code == 2 and "album, song" in bad.output
