"""CLI conventions make and dvc users expect (issue 16 item 6): `build --dry-run` says what `plan` says and
renders nothing; `plan --exit-code` exits 1 while something would render, 0 once all is cached."""

from __future__ import annotations

from testkit.cli import invoke


def _args(project):
    return [project.path, "--cache", project.root / "cache", "--out", project.root / "build"]


def test_dry_run_renders_nothing_and_says_what_plan_says(project):
    dry = invoke("build", *_args(project), "--dry-run")
    plan = invoke("plan", *_args(project))
    assert dry.exit_code == plan.exit_code == 0
    assert dry.output == plan.output and dry.output.strip().endswith("22 of 22 node(s) would render")
    assert not (project.root / "build").exists() and not (project.root / "cache" / "objects").exists()


def test_plan_exit_code_is_1_while_something_would_render(project):
    assert invoke("plan", *_args(project), "--exit-code").exit_code == 1
    assert invoke("plan", *_args(project)).exit_code == 0  # without the flag, a plan is not a failure
    assert invoke("build", *_args(project), "-j", "1").exit_code == 0
    assert invoke("plan", *_args(project), "--exit-code").exit_code == 0
    assert invoke("plan", *_args(project), "--exit-code", "--json").exit_code == 0
