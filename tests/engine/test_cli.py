"""build / plan / graph / cache through the CLI, as a user calls them."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from mixbuild.pipeline.cli import app


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_build_plan_graph_and_cache_commands(project):
    cache, out = str(project.root / "cache"), str(project.root / "out")
    first = run("plan", str(project.path), "--cache", cache)
    assert first.exit_code == 0 and "render  one/stem/kick: new" in first.output

    built = run("build", str(project.path), "--cache", cache, "--out", out, "-j", "1", "--json")
    assert built.exit_code == 0, built.output
    report = json.loads(built.stdout)
    assert report["cached"] == 0 and {"id", "stage", "key", "status", "seconds"} <= set(report["nodes"][0])
    assert json.loads((project.root / "out" / "build-report.json").read_text())["rendered"] == report["rendered"]
    assert any(o["path"].endswith("01 - One.wav") for o in report["outputs"])

    again = run("plan", str(project.path), "--cache", cache, "--json")
    assert all(e["status"] == "cached" for e in json.loads(again.stdout))

    dot = run("graph", str(project.path))
    assert dot.exit_code == 0 and '"one/mixdown" -> "one/master" [label="mixdown"]' in dot.output
    nodes = json.loads(run("graph", str(project.path), "--format", "json").stdout)
    assert {"id": "album/export/streaming", "stage": "album_export",
            "inputs": {"exports": ["one/tagged/streaming", "two/tagged/streaming"]}} in nodes
    assert {"id": "one/final/streaming", "stage": "final", "inputs": {"master": "one/master"}} in nodes

    stats = json.loads(run("cache", "stats", "--cache", cache, "--json").stdout)
    assert stats["actions"] == len(report["nodes"])
    pruned = run("cache", "prune", "--cache", cache, "--max-size-gb", "0", "--json")
    assert pruned.exit_code == 0
    assert run("cache", "verify", "--cache", cache).exit_code == 0


def test_build_with_a_bad_spec_exits_2_with_one_line(project):
    project.spec["songs"][0]["stems"]["kick"]["gain_db"] = "loud"
    project.save()
    result = run("build", str(project.path), "--cache", str(project.root / "cache"))
    assert result.exit_code == 2 and "stems.kick.gain_db: must be a number" in result.stderr


def test_plan_json_gives_changed_fields_and_inputs_as_data(project):
    cache, out = str(project.root / "cache"), str(project.root / "out")
    assert run("build", str(project.path), "--cache", cache, "--out", out, "-j", "1").exit_code == 0
    project.spec["songs"][0]["stems"]["bass"]["compressor"]["ratio"] = 3.0
    project.save()
    stem = project.root / "stems" / "two-lead.wav"
    data = bytearray(stem.read_bytes())
    data[-3] ^= 0x01
    stem.write_bytes(bytes(data))
    entries = {e["id"]: e for e in json.loads(run("plan", str(project.path), "--cache", cache, "--out", out,
                                                   "--json").stdout)}
    bass = entries["one/stem/bass"]
    assert bass["changes"]["params"] == ["compressor.ratio"] and bass["changes"]["inputs"] == []
    assert bass["key"] != bass["last_key"] and not bass["changes"]["code"]
    lead = entries["two/stem/lead"]["changes"]
    assert lead["params"] == [] and [(c["input"], c["ref"]) for c in lead["inputs"]] == [("source", str(stem.resolve()))]
    assert lead["inputs"][0]["was"] != lead["inputs"][0]["now"]
    assert entries["one/mixdown"]["upstream"] == ["one/stem/bass"] and entries["one/mixdown"]["key"] is None
    assert entries["two/stem/kick"]["status"] == "cached"


def test_explain_shows_the_stored_preimage_and_what_differs_now(project):
    cache, out = str(project.root / "cache"), str(project.root / "out")
    assert run("build", str(project.path), "--cache", cache, "--out", out, "-j", "1").exit_code == 0
    before = json.loads(run("explain", str(project.path), "one/stem/kick", "--cache", cache, "--out", out,
                            "--json").stdout)
    assert before["status"] == "cached" and before["key_now"] == before["last_build"]["key"]
    assert before["last_build"]["preimage"]["params"]["gain_db"] == -3.0
    assert before["last_build"]["refs"] == {"source": str((project.root / "stems" / "one-kick.wav").resolve())}

    project.spec["songs"][0]["stems"]["kick"]["gain_db"] = -6.0
    project.save()
    text = run("explain", str(project.path), "one/stem/kick", "--cache", cache, "--out", out)
    assert text.exit_code == 0
    assert "render: params changed: gain_db" in text.output and "param    gain_db = -3.0  -> -6.0" in text.output
    bus = json.loads(run("explain", str(project.path), "one/bus/drums", "--cache", cache, "--out", out,
                         "--json").stdout)
    assert bus["upstream"] == ["one/stem/kick"] and bus["key_now"] is None
    assert bus["last_build"]["refs"] == {"sources": ["one/stem/kick"]}

    missing = run("explain", str(project.path), "one/stem/nope", "--cache", cache, "--out", out)
    assert missing.exit_code == 2 and "has no node 'one/stem/nope'" in missing.stderr


def test_plan_after_the_last_record_was_pruned_says_so_not_new(project):
    cache, out = str(project.root / "cache"), str(project.root / "out")
    assert run("build", str(project.path), "--cache", cache, "--out", out, "-j", "1").exit_code == 0
    last_key = {n["id"]: n["key"] for n in json.loads((project.root / "out" / "build-report.json").read_text())["nodes"]}
    (project.root / "cache" / "actions" / last_key["one/stem/kick"][:2] / f"{last_key['one/stem/kick']}.json").unlink()
    entries = {e["id"]: e for e in json.loads(run("plan", str(project.path), "--cache", cache, "--out", out,
                                                   "--json").stdout)}
    assert entries["one/stem/kick"]["reasons"] == ["last build's record is gone (pruned?)"]
    assert entries["one/stem/kick"]["changes"]["record_lost"] and not entries["one/stem/kick"]["changes"]["new"]
    assert entries["one/bus/drums"]["reasons"] == ["input re-renders: one/stem/kick"]


def test_build_without_a_terminal_prints_one_progress_line_per_rendered_node(project):
    cache, out = str(project.root / "cache"), str(project.root / "out")
    cold = run("build", str(project.path), "--cache", cache, "--out", out, "-j", "2")
    assert cold.exit_code == 0, cold.output
    report = json.loads((project.root / "out" / "build-report.json").read_text())
    lines = cold.stderr.splitlines()
    total = len(report["nodes"])
    pattern = re.compile(rf"^\[(\d+)/{total}\] (\S+) rendered in [\d.]+ s; running: .+; eta (\d+ s|\?)$")
    matched = [pattern.match(line) for line in lines]
    assert all(matched), lines
    assert sorted(m.group(2) for m in matched) == sorted(n["id"] for n in report["nodes"])
    assert [int(m.group(1)) for m in matched] == sorted(int(m.group(1)) for m in matched)  # done counts rise

    project.spec["songs"][1]["stems"]["lead"]["gain_db"] = -2.0
    project.save()
    tweak = run("build", str(project.path), "--cache", cache, "--out", out, "-j", "2")
    rendered = {n["id"] for n in json.loads((project.root / "out" / "build-report.json").read_text())["nodes"]
                if n["status"] == "rendered"}
    assert {pattern.match(line).group(2) for line in tweak.stderr.splitlines()} == rendered  # cached: no line
