"""The seams a new parameter or stage kind lands on: declared once, wired by name, checked at compile time."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from mixbuild.pipeline.dag import CompileError, Node, _add, compile_album
from mixbuild.pipeline.specs import Bus, Master, Stem, Target, load
from mixbuild.stages.bus import BusParams
from mixbuild.stages.delivery import Encoding, LoudnessTarget
from mixbuild.stages.export import ExportParams
from mixbuild.stages.final import FinalParams
from mixbuild.stages.master import MasterParams
from mixbuild.stages.params import BusStrip, MasterStrip, SpecModel, StemStrip, fields_of
from mixbuild.stages.registry import KINDS, load_kinds, stage
from mixbuild.stages.stem import StemParams

PAIRS = [(Stem, StemParams, StemStrip), (Bus, BusParams, BusStrip), (Master, MasterParams, MasterStrip),
         (Target, FinalParams, LoudnessTarget), (Target, ExportParams, Encoding)]


@pytest.mark.parametrize("spec_model,params_model,strip", PAIRS, ids=lambda m: m.__name__)
def test_spec_and_stage_share_each_field_declaration(spec_model, params_model, strip):
    """Bounds, defaults and descriptions come from one class: the spec's field *is* the stage's field."""
    for name, declared in strip.model_fields.items():
        assert repr(spec_model.model_fields[name]) == repr(declared), name  # FieldInfo has no __eq__
        assert repr(params_model.model_fields[name]) == repr(declared), name
    schema = spec_model.model_json_schema()["properties"]
    assert all(schema[name].get("description") or name in ("compressor", "automation", "reverb", "delay")
               for name in strip.model_fields), "every strip field is described in the spec's JSON Schema"


def test_compile_hands_every_strip_field_to_the_stage(demo_stems):
    album = load(Path(demo_stems).parent / "album.yaml")
    nodes = compile_album(album)
    for song in album.songs:
        for name, stem in song.stems.items():
            node = nodes.get(f"{song.id}/stem/{name}")
            if node is not None:
                assert fields_of(node.params, StemStrip) == fields_of(stem, StemStrip)
        for name, bus in song.buses.items():
            node = nodes.get(f"{song.id}/bus/{name}")
            if node is not None:
                assert fields_of(node.params, BusStrip) == fields_of(bus, BusStrip)


def test_every_kind_declares_params_and_named_inputs_in_its_signature():
    kinds = load_kinds()
    assert set(kinds) == {"stem", "bus", "mixdown", "album_tonal", "pick", "master", "song_loudness",
                          "album_loudness", "final", "export", "tagged", "album_export"}
    for kind in kinds.values():
        assert issubclass(kind.params, SpecModel) and dataclasses.is_dataclass(kind.inputs)
        assert set(kind.required_inputs()) <= set(kind.input_names())
    assert kinds["final"].input_names() == ("master", "album_gain")
    assert kinds["final"].required_inputs() == ("master",)


def test_a_wrong_pairing_fails_at_compile_time_not_in_a_worker():
    nodes: dict[str, Node] = {}
    master = MasterParams(sample_rate_hz=48000)
    with pytest.raises(CompileError, match="kind final takes FinalParams, not MasterParams"):
        _add(nodes, "x/final/cd", "final", master, master="x/master")
    with pytest.raises(CompileError, match="required"):
        _add(nodes, "x/master", "master", master, tonal="x/tonal")  # the mixdown is missing
    with pytest.raises(CompileError, match="takes inputs"):
        _add(nodes, "x/master", "master", master, mixdown="x/mixdown", sidechain="y/mixdown")
    _add(nodes, "x/master", "master", master, mixdown="x/mixdown")
    assert nodes["x/master"].inputs == {"mixdown": "x/mixdown"}


class GainParams(SpecModel):
    gain_db: float = 0.0


@dataclasses.dataclass(frozen=True)
class GainInputs:
    audio: np.ndarray


def test_a_new_kind_is_its_kernel_and_signature():
    try:
        @stage("test_gain", "1")
        def render_gain(inputs: GainInputs, p: GainParams) -> np.ndarray:
            return inputs.audio * 10 ** (p.gain_db / 20)

        kind = KINDS["test_gain"]
        assert (kind.params, kind.inputs, kind.input_names()) == (GainParams, GainInputs, ("audio",))
        assert kind.render(GainInputs(np.ones((2, 2))), GainParams(gain_db=20.0))[0, 0] == pytest.approx(10.0)
        with pytest.raises(TypeError, match="render\\(inputs: <dataclass>, p: <SpecModel>\\)"):
            stage("test_bad", "1")(lambda inputs, p: None)
    finally:
        KINDS.pop("test_gain", None)
