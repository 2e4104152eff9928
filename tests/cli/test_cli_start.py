"""The CLI answers `--help` and `--version` without loading the engine (issue 16 item 1): `--help` took 0.65 s
(2 s under load), importing numpy, soundfile and the spec models. The check is on what is imported, not on a
time: a command module that imports the engine at its top fails it."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

from testkit.proc import REPO, env

_PROBE = """
import os, sys
sys.argv = ["mixbuild", "{flag}"]
real_exit = os._exit

def report_then_exit(code):  # main ends in os._exit: the modules it leaves imported are read there
    heavy = sorted(m for m in ("numpy", "soundfile", "pydantic", "numba", "scipy", "rich") if m in sys.modules)
    print("HEAVY", heavy, flush=True)
    real_exit(code)

os._exit = report_then_exit
from mixbuild.pipeline.cli import main
main()
"""


def _probe(flag):
    proc = subprocess.run([sys.executable, "-c", _PROBE.format(flag=flag)], capture_output=True, text=True,
                          env=env(), cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_help_and_version_import_none_of_the_engine():
    for flag in ("--help", "--version"):
        assert _probe(flag).strip().endswith("HEAVY []")


def test_version_is_the_installed_packages():
    assert _probe("--version").splitlines()[0] == f"mixbuild {version('mixbuild')}"
