"""A new user's install (issue 16 items 1-3): the wheel is built, installed (not editable) into a fresh venv
outside the repository, and used there as a user would: `import mixbuild`, `mixbuild --version`,
`python -m mixbuild`, `mixbuild demo` in an empty folder, `mixbuild init` on a folder of stems (an L/R pair,
broadcast-WAV time references), then `mixbuild build` of the spec init wrote. Before: `pip install .` then
`mixbuild demo` wrote 79 MB of WAVs into site-packages and exited 2, and the import names were `pipeline`
and `stages` (PyPI's `stages` package overwrote ours)."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from importlib.metadata import version

import pytest
import soundfile

from testkit.proc import REPO
from testkit.stemfolder import session_folder

pytestmark = [pytest.mark.timeout(900),
              pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg writes the BWF stems")]


def _files(folder):
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory):
    """(venv folder, its site-packages): the wheel installed there, the dependencies borrowed from this venv
    by a .pth path (so no download, and not this checkout's editable finder, whose .pth is not read there)."""
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"  # a copy of the checkout's files: setuptools builds in-tree (build/, *.egg-info)
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, listed):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_symlink():  # mixbuild/pipeline and mixbuild/stages: links to the root's folders
            (source / name).symlink_to(os.readlink(REPO / name))
        elif (REPO / name).is_file():
            shutil.copy2(REPO / name, source / name)
    wheels = tmp / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(wheels), str(source)], check=True, capture_output=True, timeout=600)
    (wheel,) = wheels.glob("mixbuild-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"mixbuild/demo_project/album.yaml", "mixbuild/demo_project/songs/opening.yaml", "mixbuild/py.typed",
            "mixbuild/__main__.py", "mixbuild/pipeline/api.py", "mixbuild/stages/dsp/limiter.py"} <= names
    assert {n.split("/")[0] for n in names if ".dist-info/" not in n} == {"mixbuild"}  # one import name
    assert not any(name.endswith(".wav") for name in names)  # stems are synthesised, never shipped
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", str(wheel)], check=True, capture_output=True, timeout=600)
    deps = [sysconfig.get_path("purelib"), *site.getsitepackages()]
    (venv / purelib / "zz-dependencies.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    return venv, venv / purelib


def _run(venv, *args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MIXBUILD_CACHE", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_the_installed_package_imports_as_mixbuild_and_answers_version(fresh_venv, tmp_path):
    venv, purelib = fresh_venv
    imported = _run(venv, venv / "bin" / "python", "-c", "import mixbuild, mixbuild.pipeline.api as api; "
                    "print(mixbuild.__file__); print(mixbuild.load is api.load)", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.split() == [str(purelib / "mixbuild" / "__init__.py"), "True"]  # the wheel's code
    assert _run(venv, "mixbuild", "--version", cwd=tmp_path).stdout.strip() == f"mixbuild {version('mixbuild')}"
    as_module = _run(venv, venv / "bin" / "python", "-m", "mixbuild", "--help", cwd=tmp_path)
    assert as_module.returncode == 0 and "init" in as_module.stdout and "demo" in as_module.stdout


def test_the_demo_runs_in_an_empty_folder_and_writes_nothing_into_the_install(fresh_venv, tmp_path):
    venv, purelib = fresh_venv
    installed = _files(purelib / "mixbuild")
    run = _run(venv, "mixbuild", "demo", "first demo", "-j", "2", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    demo = tmp_path / "first demo"
    assert (demo / "album.yaml").is_file() and (demo / "build" / "streaming" / "01 - Opening.wav").is_file()
    assert "streaming/First Light.wav" in run.stdout
    assert _files(purelib / "mixbuild") == installed  # nothing written beside the installed package


def test_init_then_build_from_a_folder_of_stems(fresh_venv, tmp_path):
    venv, _ = fresh_venv
    stems = session_folder(tmp_path / "Session Export")
    made = _run(venv, "mixbuild", "init", stems, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    spec = tmp_path / "album.yaml"
    assert made.stdout.strip() == f"wrote {spec.name}: 1 song(s), 6 stem(s); next: mixbuild build {spec.name}"
    built = _run(venv, "mixbuild", "build", spec.name, "-j", "2", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    delivered = tmp_path / "build" / "streaming" / "01 - Session Export.wav"
    # Lead Vox sits at 0 s and BV_1 at 2 s (their bext references, 3600 s and 3602 s): the song is >= 3 s long
    assert soundfile.info(str(delivered)).duration >= 3.0
    assert "streaming/01 - Session Export.wav" in built.stdout
