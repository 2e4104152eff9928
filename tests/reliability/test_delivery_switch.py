"""A target folder switches whole (issue 15 item 3): kill -9 while a changed album was delivered over the old
one left old and new files mixed under a manifest whose sha256 values no longer matched, and a full disk during
delivery left 3 of 4 files not matching the manifest. Now a reader sees the previous complete delivery or the
new one, after any kill or a full disk, and the next build finishes the new one and leaves nothing behind."""

from __future__ import annotations

import shutil

from mixbuild.pipeline.dirswitch import next_path
from testkit.deliverykill import USER_FILE, build_killed_at, folder_state, manifest_mismatches, two_versions
from testkit.diskfull import remount
from testkit.outdir import temp_files
from testkit.proc import build


def _versions(project, tmp_path):
    out = tmp_path / "v1"
    return (out, *two_versions(project, out, tmp_path / "v2-ref"))


def _assert_whole(folder, v1, v2):
    seen = folder_state(folder)
    assert seen in (v1, v2), sorted(seen)
    assert manifest_mismatches(folder) == []
    assert (folder / "artwork" / "cover.txt").read_text() == "front"


def _assert_finished(project, out, v2):
    again = build(project.path, project.root / "cache", out, jobs=1)
    assert again.returncode == 0, again.stderr
    folder = out / "streaming"
    assert folder_state(folder) == v2 and manifest_mismatches(folder) == []
    assert (folder / "artwork" / "cover.txt").read_text() == "front"
    assert sorted(p.name for p in out.iterdir()) == [".mixbuild-albums.json", ".mixbuild.lock", "build-report.json",
                                                     "streaming"]
    assert temp_files(out) == []


def test_a_kill_at_any_point_of_delivery_leaves_the_old_or_the_new_whole(project, tmp_path):
    out, v1, v2 = _versions(project, tmp_path)
    trial = tmp_path / "trial"
    shutil.copytree(out, trial, symlinks=True)
    code, calls = build_killed_at(project.path, project.root / "cache", trial, 10**9)
    assert code == 0 and calls and calls > 20
    assert folder_state(trial / "streaming") == v2
    seen, staging = set(), set()
    for nth in sorted({1, 2, calls // 3, calls // 2, calls - 4, calls - 2, calls - 1, calls} | set(range(3, calls, 7))):
        shutil.rmtree(trial)
        shutil.copytree(out, trial, symlinks=True)
        code, _ = build_killed_at(project.path, project.root / "cache", trial, nth)
        assert code == 9, nth
        _assert_whole(trial / "streaming", v1, v2)
        seen.add(folder_state(trial / "streaming") == v2)
        staging.add(next_path(trial / "streaming").is_dir())
        _assert_finished(project, trial, v2)
    assert seen == {False, True}  # kills landed both before and after the switch
    assert True in staging  # and while the next contents were being assembled (on the delivery thread)


def test_a_user_file_and_folder_survive_and_unchanged_files_are_not_copied(project, tmp_path):
    out, _, v2 = _versions(project, tmp_path)
    assert build(project.path, project.root / "cache", out, jobs=1).returncode == 0
    folder = out / "streaming"
    inodes = {name: (folder / name).stat().st_ino for name in ("notes.txt", "01 - Renamed.wav")}
    project.spec["songs"][1]["stems"]["kick"]["gain_db"] = -4.0  # track loudness: song one's file is unchanged
    project.save()
    assert build(project.path, project.root / "cache", out, jobs=1).returncode == 0
    now = folder_state(folder)
    assert now["02 - Two.wav"] != v2["02 - Two.wav"] and now["01 - Renamed.wav"] == v2["01 - Renamed.wav"]
    assert {name: (folder / name).stat().st_ino for name in inodes} == inodes  # linked over, never copied
    assert now["notes.txt"] == USER_FILE["notes.txt"] and (folder / "artwork" / "cover.txt").read_text() == "front"
    assert manifest_mismatches(folder) == []


def test_a_full_disk_during_delivery_keeps_the_previous_delivery_whole(project, tmpfs):
    mnt = tmpfs("5m")
    cache, out = project.root / "cache", mnt / "out"
    assert build(project.path, cache, out, jobs=1).returncode == 0  # ~3.4 MB of deliverables fit in 5 MB
    folder = out / "streaming"
    v1 = folder_state(folder)
    project.spec["master"]["compressor"]["threshold_db"] = -21  # every file changes: 3.4 MB more to stage
    project.save()
    proc = build(project.path, cache, out, jobs=1)
    assert proc.returncode == 1 and "No space left on device" in proc.stderr.strip().splitlines()[-1]
    assert folder_state(folder) == v1 and manifest_mismatches(folder) == []
    assert sorted(p.name for p in out.iterdir()) == [".mixbuild-albums.json", ".mixbuild.lock", "build-report.json",
                                                     "streaming"]
    remount(mnt, "64m")
    assert build(project.path, cache, out, jobs=1).returncode == 0
    assert folder_state(folder) != v1 and manifest_mismatches(folder) == []
