"""The folder switch under delivery: one atomic exchange where the file system has one, and a fallback of two
renames whose interruption `settle` repairs to the old contents."""

from __future__ import annotations

import json

import pytest

from mixbuild.pipeline import dirswitch
from mixbuild.pipeline.dirswitch import next_path, settle, switch


def _listed(folder):
    try:
        return set(json.loads((folder / "list.json").read_text())) | {"list.json"}
    except FileNotFoundError:
        return {"list.json"}


def _folder(tmp_path):
    folder = tmp_path / "streaming"
    folder.mkdir()
    (folder / "list.json").write_text('["a.wav", "gone.wav"]')
    for name in ("a.wav", "gone.wav", "mine.txt"):
        (folder / name).write_text(f"old {name}")
    staged = next_path(folder)
    staged.mkdir()
    (staged / "list.json").write_text('["a.wav", "new.wav"]')
    for name in ("a.wav", "new.wav"):
        (staged / name).write_text(f"new {name}")
    (staged / "mine.txt").hardlink_to(folder / "mine.txt")
    return folder, staged


def _contents(folder):
    return {p.name: p.read_text() for p in folder.iterdir()}


NEW = {"list.json": '["a.wav", "new.wav"]', "a.wav": "new a.wav", "new.wav": "new new.wav", "mine.txt": "old mine.txt"}
OLD = {"list.json": '["a.wav", "gone.wav"]', "a.wav": "old a.wav", "gone.wav": "old gone.wav",
       "mine.txt": "old mine.txt"}


def test_the_exchange_is_one_step_and_settle_empties_the_old_side(tmp_path):
    if dirswitch._EXCHANGE is None:
        pytest.skip("no renameat2/renamex_np in this C library")
    folder, staged = _folder(tmp_path)
    new_inode = staged.stat().st_ino
    (folder / "saved-meanwhile.txt").write_text("the user's")
    switch(folder, staged)
    assert folder.stat().st_ino == new_inode  # the assembled folder itself, not a copy of it
    assert _contents(staged) == OLD | {"saved-meanwhile.txt": "the user's"}
    assert settle(folder, _listed, "list.json") and not staged.exists()
    assert _contents(folder) == NEW | {"saved-meanwhile.txt": "the user's"}  # moved back, not lost


def test_without_an_exchange_two_renames_give_the_same_result(tmp_path, monkeypatch):
    monkeypatch.setattr(dirswitch, "_EXCHANGE", None)
    folder, staged = _folder(tmp_path)
    switch(folder, staged)
    assert settle(folder, _listed, "list.json") and not staged.exists()
    assert _contents(folder) == NEW


def test_a_kill_between_the_fallbacks_renames_is_repaired_to_the_old_contents(tmp_path, monkeypatch):
    monkeypatch.setattr(dirswitch, "_EXCHANGE", None)
    folder, staged = _folder(tmp_path)
    real, calls = dirswitch.os.rename, []

    def rename(a, b):
        calls.append(a)
        if len(calls) == 2:
            raise SystemExit("killed")
        real(a, b)

    monkeypatch.setattr(dirswitch.os, "rename", rename)
    with pytest.raises(SystemExit):
        switch(folder, staged)
    monkeypatch.setattr(dirswitch.os, "rename", real)
    assert not folder.exists()  # the one moment the fallback shows nothing (never a mix)
    assert settle(folder, _listed, "list.json") and not staged.exists()
    assert _contents(folder) == OLD


def test_a_file_replaced_during_the_switch_is_kept_and_the_sibling_stays(tmp_path):
    folder, staged = _folder(tmp_path)
    switch(folder, staged)
    (staged / "mine.txt").unlink()
    (staged / "mine.txt").write_text("edited while the build ran")  # the old side's copy is now another file
    assert not settle(folder, _listed, "list.json")
    assert (staged / "mine.txt").read_text() == "edited while the build ran"
    assert _contents(folder) == NEW
