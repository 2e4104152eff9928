"""build / plan / graph / cache through the CLI, as a user calls them."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pipeline.cli import app


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
    assert dot.exit_code == 0 and '"one/mixdown" -> "one/master"' in dot.output
    nodes = json.loads(run("graph", str(project.path), "--format", "json").stdout)
    assert {"id": "album/export/streaming", "stage": "album_export",
            "inputs": ["one/export/streaming", "two/export/streaming"]} in nodes

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
