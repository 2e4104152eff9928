"""A new user's install (issue 16 item 2): `pip install .` then `mixbuild demo` wrote 79 MB of WAVs into
site-packages and exited 2 (`album.yaml: file not found`): the wheel held no demo specs. Here a wheel is built,
installed (not editable) into a folder of its own, and `mixbuild demo` runs in an empty folder outside the
repository: the demo project is written there, built, and its delivery table printed."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

from testkit.proc import REPO

pytestmark = pytest.mark.timeout(900)


def _files(folder):
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_the_demo_runs_from_a_wheel_in_an_empty_folder(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(wheels), str(REPO)], check=True, capture_output=True, timeout=600)
    (wheel,) = wheels.glob("mixbuild-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"pipeline/demo_project/album.yaml", "pipeline/demo_project/songs/opening.yaml", "pipeline/py.typed",
            "stages/py.typed"} <= names
    assert not any(name.endswith(".wav") for name in names)  # stems are synthesised, never shipped
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    installed = _files(site)
    work = tmp_path / "empty"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MIXBUILD_CACHE")} | {"PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-c", "import sys, pipeline; print(pipeline.__file__, file=sys.stderr); "
                          "sys.argv = ['mixbuild', 'demo', '-j', '2']; from pipeline.cli import main; main()"],
                         cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines()[0].startswith(str(site))  # the wheel's code, not the checkout's
    demo = work / "mixbuild-demo"
    assert (demo / "album.yaml").is_file() and (demo / "build" / "streaming" / "01 - Opening.wav").is_file()
    assert "streaming/First Light.wav" in run.stdout
    assert _files(site) == installed  # nothing written beside the installed package (numba's caches aside)
