"""Random mutations of a valid spec always give exit 2, no traceback, and problems that name a file and field."""

from __future__ import annotations

import copy
import json
import re

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mixbuild.pipeline.cli import app

LINE = re.compile(r"^(?P<file>/[^:]+?)(:\d+)?: (?P<field>[^\s:]+): .+$")


def valid_album(stem: str) -> dict:
    """A small but complete album: one inline song with buses, sends, automation and a master."""
    return {
        "title": "Prop", "artist": "Band", "sample_rate": 48000,
        "master": {"eq": [{"type": "low_shelf", "freq_hz": 90, "gain_db": 0.5}],
                   "compressor": {"threshold_db": -16, "ratio": 1.5}, "album_loudness": "album"},
        "targets": {"streaming": {"preset": "streaming"}, "cd": {"preset": "cd", "bit_depth": 16}},
        "songs": [{
            "title": "One", "tempo_bpm": 120,
            "stems": {
                "kick": {"file": stem, "gain_db": -3.0, "output": "drums"},
                "lead": {"file": stem, "pan": 0.2, "sends": {"verb": -12.0},
                         "eq": [{"type": "highpass", "freq_hz": 80}],
                         "automation": {"gain_db": [[0, -6], [1, 0]]}},
            },
            "buses": {"drums": {"compressor": {"threshold_db": -12, "ratio": 2}},
                      "verb": {"reverb": {"decay_s": 1.5}}},
        }],
    }


# (path into the spec, mutation) pairs; each mutation always makes the spec invalid
REQUIRED = [("title",), ("songs",), ("songs", 0, "title"), ("songs", 0, "stems"),
            ("songs", 0, "stems", "kick", "file"), ("master", "eq", 0, "type")]
NUMBERS = [("sample_rate",), ("songs", 0, "stems", "kick", "gain_db"), ("songs", 0, "stems", "lead", "pan"),
           ("master", "compressor", "ratio"), ("songs", 0, "buses", "verb", "reverb", "decay_s"),
           ("songs", 0, "tempo_bpm"), ("master", "eq", 0, "freq_hz")]
MAPPINGS = [(), ("master",), ("songs", 0), ("songs", 0, "stems", "kick"), ("songs", 0, "buses", "drums"),
            ("targets", "cd"), ("master", "compressor"), ("songs", 0, "stems", "lead", "eq", 0)]
REFERENCES = [("songs", 0, "stems", "kick", "output")]

mutation = st.one_of(
    st.tuples(st.just("drop"), st.sampled_from(REQUIRED), st.none()),
    st.tuples(st.just("type"), st.sampled_from(NUMBERS), st.sampled_from(["loud", [1, 2], {"a": 1}, True])),
    st.tuples(st.just("range"), st.sampled_from(NUMBERS), st.sampled_from([1e9, -1e9])),
    st.tuples(st.just("unknown"), st.sampled_from(MAPPINGS), st.from_regex(r"\Azz[a-z_]{1,8}\Z")),
    st.tuples(st.just("reference"), st.sampled_from(REFERENCES), st.from_regex(r"\Anobus[a-z]{0,5}\Z")),
)


def apply(spec: dict, kind: str, path: tuple, value) -> dict:
    spec = copy.deepcopy(spec)
    parent = spec
    for part in path[:-1] if kind != "unknown" else path:
        parent = parent[part]
    if kind == "drop":
        del parent[path[-1]]
    elif kind == "unknown":
        parent[value] = 1
    else:
        parent[path[-1]] = value
    return spec


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(mutation, min_size=1, max_size=3), fmt=st.sampled_from(["yaml", "json"]))
def test_mutated_specs_fail_cleanly(tmp_path, tiny_wav, mutations, fmt):
    spec = valid_album(str(tiny_wav))
    for kind, path, value in mutations:
        try:
            spec = apply(spec, kind, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced the parent; the spec is invalid already
    target = tmp_path / f"album.{fmt}"
    target.write_text(yaml.safe_dump(spec) if fmt == "yaml" else json.dumps(spec))
    result = CliRunner().invoke(app, ["validate", str(target)])
    assert result.exit_code == 2, (mutations, result.output)
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines
    for line in lines:
        match = LINE.match(line)
        assert match, line
        assert match["file"] == str(target)


def test_unmutated_spec_is_valid(tmp_path, tiny_wav):
    target = tmp_path / "album.yaml"
    target.write_text(yaml.safe_dump(valid_album(str(tiny_wav))))
    result = CliRunner().invoke(app, ["validate", str(target)])
    assert result.exit_code == 0, result.output
