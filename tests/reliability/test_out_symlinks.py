"""A build never writes through a symbolic link in its out folder (issue 15 item 3): a link at a deliverable's
path made the build overwrite the user's file it pointed to (exit 0), and a target folder linked outside --out
was refused as an `internal error`."""

from __future__ import annotations

from testkit.proc import build


def test_a_link_at_a_deliverables_path_is_refused_and_its_target_untouched(project, tmp_path):
    out = tmp_path / "out"
    assert build(project.path, project.root / "cache", out, jobs=1).returncode == 0
    mine = tmp_path / "mine.wav"
    mine.write_bytes(b"the user's own take")
    track = next((out / "streaming").glob("01 - *.wav"))
    track.unlink()
    track.symlink_to(mine)
    again = build(project.path, project.root / "cache", out, jobs=1)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines()[-1] == (f"build failed: {track}: is a symbolic link; mixbuild never "
                                                     "writes through one (remove it, or deliver into another --out)")
    assert mine.read_bytes() == b"the user's own take" and track.is_symlink()


def test_a_target_folder_linked_outside_out_is_one_line_not_an_internal_error(project, tmp_path):
    out = tmp_path / "out"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out.mkdir()
    (out / "streaming").symlink_to(elsewhere, target_is_directory=True)
    result = build(project.path, project.root / "cache", out, jobs=1)
    assert result.returncode == 1 and "internal error" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (f"build failed: {out / 'streaming'}: leads outside {out}; "
                                                      "mixbuild delivers only inside it")
    assert not any(elsewhere.iterdir())
