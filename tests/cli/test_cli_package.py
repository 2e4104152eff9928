"""The CLI package imports without a circle: `python -m pipeline.cli` runs, and any module can be imported first."""

from __future__ import annotations

import subprocess
import sys

import pytest

COMMANDS = ("validate", "schema", "analyze", "demo", "build", "plan", "graph", "watch", "cache")
MODULES = ("mixbuild.pipeline.cli", "mixbuild.pipeline.cli.common", "mixbuild.pipeline.cli.spec", "mixbuild.pipeline.cli.build",
           "mixbuild.pipeline.cli.cache", "mixbuild.pipeline.cli.watch")


def python(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120)


def test_python_m_pipeline_cli_lists_every_command():
    proc = python("-m", "mixbuild.pipeline.cli", "--help")
    assert proc.returncode == 0, proc.stderr
    assert all(f" {command} " in proc.stdout for command in COMMANDS), proc.stdout


def test_python_m_pipeline_cli_runs_a_command(project):
    proc = python("-m", "mixbuild.pipeline.cli", "validate", str(project.path))
    assert proc.returncode == 0 and "valid: album 'Test Album'" in proc.stdout, proc.stderr


@pytest.mark.parametrize("first", MODULES)
def test_each_cli_module_imports_first_in_a_fresh_interpreter(first):
    """Whichever module comes first, the rest follow and every command is registered on `app`."""
    rest = [m for m in reversed(MODULES) if m != first]
    code = "; ".join(f"import {m}" for m in (first, *rest))
    proc = python("-c", f"{code}; from mixbuild.pipeline.cli import app, main; "
                        "print(sorted(c.name or c.callback.__name__ for c in app.registered_commands))")
    assert proc.returncode == 0, proc.stderr
    assert all(repr(c) in proc.stdout for c in COMMANDS if c != "cache"), proc.stdout
