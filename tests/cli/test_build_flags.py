"""CLI conventions (issue 16 item 6): -q / -v, `build` ends with the delivery table `demo` prints, `build --force
[NODE...]` renders nodes again, shell completion is offered."""

from __future__ import annotations

import json

from testkit.cli import PROGRESS_LINE, invoke
from testkit.proc import cli


def _args(project):
    return [project.path, "--cache", project.root / "cache", "--out", project.root / "build", "-j", "1"]


def _rendered(project):
    report = json.loads((project.root / "build" / "build-report.json").read_text())
    return {n["id"] for n in report["nodes"] if n["status"] == "rendered"}


def test_build_prints_the_delivery_table_and_quiet_prints_nothing(project):
    loud = cli("build", *_args(project))
    assert loud.returncode == 0
    lines = loud.stdout.splitlines()
    assert lines[0].startswith(f"built {project.path}: 22 node(s) rendered")
    assert lines[1].split() == ["song", "target", "LUFS", "dBTP", "file"]
    assert [line.split("  ")[-1] for line in lines[2:]] == ["streaming/01 - One.wav", "streaming/02 - Two.wav",
                                                             "streaming/Test Album.wav"]
    quiet = cli("build", *_args(project), "-q")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""


def test_verbose_lists_cached_nodes(project):
    assert cli("build", *_args(project), "-q").returncode == 0
    verbose = cli("build", *_args(project), "-v")
    cached = [line for line in verbose.stderr.splitlines() if line.endswith(" cached")]
    assert len(cached) == 22 and not any(PROGRESS_LINE.match(line) for line in verbose.stderr.splitlines())


def test_force_renders_the_named_nodes_again_and_what_is_bit_identical_stops_there(project):
    assert invoke("build", *_args(project), "-q").exit_code == 0
    assert invoke("build", *_args(project), "-q", "--force", "one/stem/kick").exit_code == 0
    assert _rendered(project) == {"one/stem/kick"}  # same bytes again: the bus after it is a hit
    assert invoke("build", *_args(project), "-q", "--force").exit_code == 0
    assert len(_rendered(project)) == 22


def test_node_ids_need_force_and_must_exist(project):
    without = invoke("build", *_args(project), "one/stem/kick")
    assert without.exit_code == 2 and without.output.strip() == (
        "build: 'one/stem/kick': node ids are for --force (render them again); without it, build renders what changed")
    unknown = invoke("build", *_args(project), "--force", "one/stem/kik")
    assert unknown.exit_code == 2 and unknown.output.strip() == (
        "command line: NODE: 'one/stem/kik' is not a node of this album (`mixbuild graph SPEC --format json` "
        "lists them)")


def test_shell_completion_is_offered():
    assert "--install-completion" in invoke("--help").output


def test_a_one_shot_build_leaves_no_worker_behind(project):
    """`mixbuild build` ends in os._exit once everything is written, killing its idle loky workers first (their
    polite exit took 0.7 s of a cold build): none survives the command, nor holds its output pipes open."""
    import subprocess
    import time

    import psutil

    from testkit.proc import CLI, env

    proc = subprocess.Popen(CLI + ["build", *map(str, _args(project)[:-1]), "3", "-q"], env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parent, workers = psutil.Process(proc.pid), set()
    while proc.poll() is None:  # -j 3: the stems (a backlog of more than two) go to a loky worker too: note its pid
        try:
            workers |= {c.pid for c in parent.children() if "loky" in " ".join(c.cmdline())}
        except psutil.Error:
            pass  # the build ended (or a child did) between two looks
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=60)  # a surviving worker would hold the pipes open
    assert proc.returncode == 0, stderr
    assert workers, "the build started no worker: the test shows nothing"

    def alive() -> list[int]:
        try:
            return [pid for pid in workers if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
        except psutil.NoSuchProcess:
            return alive()  # one went between two looks: look again

    deadline = time.perf_counter() + 2.0  # a killed worker may still be tearing down its memory (no cmdline left)
    while alive() and time.perf_counter() < deadline:
        time.sleep(0.05)
    assert not alive(), "loky workers outlived the build"
