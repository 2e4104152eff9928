"""kill -9 a build at its N-th system call inside delivery, and check what a reader of the target folder sees.

The build runs in a subprocess with a profile hook, in every thread (targets deliver on threads), that counts
the C calls (rename, link, unlink, copy, fsync, ...) made from `pipeline/deliver.py` and `pipeline/dirswitch.py`,
and ends the process with `os._exit(9)` at the N-th: no `finally`, no cleanup, the same as a kill -9 at that point. With N beyond the last call it runs
to the end and prints how many calls delivery made, so a campaign can sweep every point.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from .proc import REPO, build, env

_SCRIPT = """
import os, sys, threading
from mixbuild.pipeline import api
spec, cache, out, nth = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
watched = ("pipeline/deliver.py", "pipeline/dirswitch.py")
count = 0
def hook(frame, event, arg):
    global count
    if event == "c_call" and frame.f_code.co_filename.endswith(watched):
        count += 1
        if count == nth:
            os._exit(9)
sys.setprofile(hook)
threading.setprofile(hook)
api.build(spec, cache_dir=cache, out_dir=out, jobs=1)
threading.setprofile(None)
sys.setprofile(None)
print(count)
"""


def build_killed_at(spec: Path, cache: Path, out: Path, nth: int) -> tuple[int, int | None]:
    """(exit code, delivery's call count when it ran to the end) of a build killed at its nth delivery call."""
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(spec), str(cache), str(out), str(nth)],
                          capture_output=True, text=True, env=env(), cwd=REPO, timeout=600)
    calls = int(proc.stdout.split()[-1]) if proc.returncode == 0 else None
    return proc.returncode, calls


def folder_state(folder: Path) -> dict[str, bytes]:
    """Every entry of a target folder (hidden ones too) by name: what a reader of it sees."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()} if folder.is_dir() else {}


def manifest_mismatches(folder: Path) -> list[str]:
    """Files the folder's album manifests list whose sha256 is not what the manifest says (missing ones too)."""
    bad = []
    for path in sorted(folder.glob("*.manifest.json")):
        bad += _mismatches(folder, json.loads(path.read_bytes()))
    return bad


def _mismatches(folder: Path, manifest: dict) -> list[str]:
    entries = list(manifest["files"]) + ([manifest["cue_sheet"]] if "cue_sheet" in manifest else [])
    bad = []
    for entry in entries:
        path = folder / entry["path"]
        if "sha256" in entry and (not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]):
            bad.append(entry["path"])
    return bad


USER_FILE = {"notes.txt": b"the mastering engineer's notes"}


def two_versions(project, out: Path, ref: Path) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Deliver the project into `out` (plus a user's file and folder in `out/streaming`), then rename a song
    and re-master the album, whose delivery goes to `ref`: (v1, v2), what `out/streaming` holds before and should
    hold after delivering the change. The cache then holds v2, so the next build into `out` only delivers."""
    cache = project.root / "cache"
    assert build(project.path, cache, out, jobs=1).returncode == 0
    folder = out / "streaming"
    (folder / "notes.txt").write_bytes(USER_FILE["notes.txt"])
    (folder / "artwork").mkdir()
    (folder / "artwork" / "cover.txt").write_text("front")
    v1 = folder_state(folder)
    project.spec["songs"][0]["title"] = "Renamed"  # a stale file to drop, a new name to add
    project.spec["master"]["compressor"]["threshold_db"] = -21  # every file changes
    project.save()
    assert build(project.path, cache, ref, jobs=1).returncode == 0
    v2 = folder_state(ref / "streaming") | USER_FILE
    manifest = "Test Album.manifest.json"
    assert set(v1) - set(v2) and set(v2) - set(v1) and v1[manifest] != v2[manifest]
    return v1, v2
