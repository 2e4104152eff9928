"""Project-relative defaults (issue 16 item 5): `./build` and `./cache` were relative to the current folder, so
the same spec built from another folder re-rendered everything and left a stray `cache/` there. Now they are the
spec's project's: the nearest folder up from the spec with a `mixbuild.toml`, else the spec's own folder."""

from __future__ import annotations

import subprocess

from testkit.proc import CLI, env


def _build_from(cwd, spec):
    return subprocess.run(CLI + ["build", str(spec), "-j", "1", "-q"], cwd=cwd, env=env(), capture_output=True,
                          text=True, timeout=600)


def test_a_spec_builds_into_its_own_folder_from_anywhere(project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert _build_from(elsewhere, project.path).returncode == 0
    assert list(elsewhere.iterdir()) == []  # nothing left where the command was typed
    assert (project.root / "build" / "streaming").is_dir() and (project.root / "cache" / "objects").is_dir()
    again = subprocess.run(CLI + ["build", str(project.path), "-j", "1"], cwd=project.root, env=env(),
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "0 node(s) rendered" in again.stdout  # the same cache, from its own folder


def test_a_marker_makes_the_project_folder(project, tmp_path):
    (project.root / "mixbuild.toml").write_text("")
    specs = project.root / "specs"
    specs.mkdir()
    spec = specs / "album.yaml"
    spec.write_text(project.path.read_text().replace("file: stems/", "file: ../stems/"))
    assert _build_from(tmp_path, spec).returncode == 0
    assert (project.root / "build" / "streaming").is_dir() and not (specs / "build").exists()
