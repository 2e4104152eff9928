"""A JSON Schema that matches the language (issue 16 item 7): `mixbuild schema` rejected the demo's own song files
(the `sends: {plate: -12}` shorthand was not in it), a JSON spec carrying `"$schema"` was refused, and few
fields had descriptions. Checked with a real validator (jsonschema, Draft 2020-12)."""

from __future__ import annotations

import json
import tomllib

import jsonschema
import pytest
import yaml

from mixbuild.pipeline.cli.spec import SCHEMA_KINDS, spec_schema
from mixbuild.pipeline.specs import load
from testkit.cli import invoke
from testkit.proc import REPO

SPECS = sorted(p for p in (REPO / "configs").rglob("*") if p.suffix in (".yaml", ".json", ".toml")
               and "stems" not in p.parts)


def _data(path):
    text = path.read_text()
    return {".yaml": yaml.safe_load, ".json": json.loads, ".toml": tomllib.loads}[path.suffix](text)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_spec_in_configs_validates_against_the_schema(path):
    data = _data(path)
    kind = "album" if "songs" in data else "song"
    jsonschema.Draft202012Validator(spec_schema(kind)).validate(data)


def test_the_schema_is_a_valid_2020_12_schema_with_a_description_on_every_field(tmp_path):
    result = invoke("schema", "song", "--write", tmp_path)
    assert result.exit_code == 0
    for kind in SCHEMA_KINDS:
        schema = json.loads((tmp_path / f"{kind}.schema.json").read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"].endswith(f"{kind}.schema.json")
        undescribed = [f"{name}.{prop}" for name, model in [("", schema), *schema["$defs"].items()]
                       for prop, value in model.get("properties", {}).items() if "description" not in value]
        assert undescribed == []


def test_a_send_level_and_a_wrong_send_are_told_apart():
    validator = jsonschema.Draft202012Validator(spec_schema("song"))
    song = {"title": "x", "stems": {"a": {"file": "a.wav", "sends": {"plate": -12}}}}
    assert validator.is_valid(song)
    song["stems"]["a"]["sends"]["plate"] = "loud"
    assert not validator.is_valid(song)


def test_a_json_spec_may_name_its_schema(tiny_wav, tmp_path):
    spec = tmp_path / "song.json"
    spec.write_text(json.dumps({"$schema": "./song.schema.json", "title": "Named",
                                "stems": {"a": {"file": str(tiny_wav)}}}))
    assert load(spec).songs[0].title == "Named"
    jsonschema.Draft202012Validator(spec_schema("song")).validate(json.loads(spec.read_text()))
