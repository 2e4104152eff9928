"""`--target vinly` (a typo) built nothing and exited 0 (issue 16 item 5): an unknown target is exit 2 naming
the album's targets, for build, plan and graph alike, before anything renders."""

from __future__ import annotations

import pytest

from testkit.cli import invoke


@pytest.mark.parametrize("command", ["build", "plan", "graph"])
def test_an_unknown_target_is_exit_2_naming_the_known_ones(project, command):
    extra = ["--cache", str(project.root / "cache"), "--out", str(project.root / "build")] if command != "graph" else []
    result = invoke(command, project.path, "--target", "streaming", "--target", "vinly", *extra)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "command line: --target: 'vinly' is not a target of this album (its targets: streaming)"]
    assert not (project.root / "cache").exists() and not (project.root / "build").exists()
