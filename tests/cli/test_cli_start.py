"""The CLI answers `--help` and `--version` without loading the engine (issue 16 item 1): `--help` took 0.65 s
(2 s under load), importing numpy, soundfile and the spec models. The check is on what is imported, not on a
time: a command module that imports the engine at its top fails it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
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
from mixbuild.pipeline.{entry} import main
main()
"""


def _probe(flag, entry="cli"):
    with tempfile.TemporaryDirectory() as run_dir:  # a socket folder, no server: the launcher looks, then runs here
        os.mkdir(os.path.join(run_dir, "mixbuild"), 0o700)
        proc = subprocess.run([sys.executable, "-c", _PROBE.format(flag=flag, entry=entry)], capture_output=True,
                              text=True, env={**env(), "XDG_RUNTIME_DIR": run_dir}, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_help_and_version_import_none_of_the_engine():
    for entry in ("cli", "launch"):  # the CLI, and the console script's entry looking for a server first
        for flag in ("--help", "--version"):
            assert _probe(flag, entry).strip().endswith("HEAVY []")


def test_version_is_the_installed_packages():
    assert _probe("--version").splitlines()[0] == f"mixbuild {version('mixbuild')}"
