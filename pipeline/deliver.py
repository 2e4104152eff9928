"""Put the album exports' files in the output directory: each target's folder switches whole.

Files mixbuild delivered earlier that are no longer part of the delivery (a song renamed, a target
dropped from the spec) are removed, so that `out_dir/<target>/` holds exactly what the spec says.
Only files a previous `manifest.json` listed are ever removed; anything else in the folder stays.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from .atomic import is_temp_name, sweep_stale_temps
from .cache import Cache
from .filememo import FileDigestMemo
from .dirswitch import carry, next_path, settle, switch
from .executor import NodeResult

ALBUM_EXPORT_PREFIX = "album/export/"


class DeliveryError(RuntimeError):
    """A deliverable's place in the out folder cannot be written safely (a symbolic link there, a target
    folder leading outside): one line, and nothing the user owns is touched."""

MANIFEST = "manifest.json"


def deliver(results: list[NodeResult], cache: Cache, out_dir: Path,
            prune_targets: bool = False) -> list[dict[str, Any]]:
    """Put every file of every album export into `out_dir/<target>/`; return path, digest, target.

    Each target's folder switches whole (`dirswitch.py`): its next contents are assembled beside it and
    exchanged with it in one step, so a reader (and a build killed at any point, or a full disk) sees the
    previous complete delivery or the new one, each with the manifest that matches it. The next contents are
    the new delivery plus everything else the folder held, except the files the previous `manifest.json`
    listed that the new delivery no longer has (e.g. `01 - Old Title.wav` after a song's title changed):
    nobody uploads a file the spec no longer produces, and nothing mixbuild did not deliver is dropped.

    With `prune_targets` (the caller built every target of the spec, not a `--target` subset), each other
    folder `out_dir/<name>/` whose manifest says it is target `<name>` of this same album (its album file's
    title equals this delivery's) loses its listed files and manifest, and the folder itself once empty (a
    target dropped from the spec). A folder whose old manifest is unreadable or malformed keeps every file
    (better a stale file than a lost one; the new manifest makes the next build's cleanup exact again).
    """
    delivered = []
    memo = cache.file_digest_memo()  # a delivered file unchanged since the last build is not read again
    sweep_stale_temps(out_dir)  # e.g. the build report's, left by a build killed while writing it
    album_titles: set[str] = set()
    delivered_targets: set[str] = set()
    for result in results:
        if not result.id.startswith(ALBUM_EXPORT_PREFIX):
            continue
        target = result.id[len(ALBUM_EXPORT_PREFIX):]
        delivered_targets.add(target)
        files = {Path(name).name: entry["blob"] for name, entry in cache.load_json(result.digest)["files"].items()}
        folder = _target_folder(out_dir, target)
        new_manifest = _read_manifest(cache.blob_path(files[MANIFEST]))
        if new_manifest is not None:
            album_titles |= new_manifest[1]
        _switch_target(cache, files, folder, memo)
        delivered += [{"target": target, "path": str(folder / name), "digest": blob}
                      for name, blob in sorted(files.items())]
    if prune_targets and album_titles:
        _prune_other_targets(out_dir, delivered_targets, album_titles)
    memo.flush()
    return delivered


def _target_folder(out_dir: Path, target: str) -> Path:
    """`out_dir/target`, refused with one line where writing there would leave `out_dir` or follow a link."""
    folder = out_dir / target
    if out_dir.resolve() not in folder.resolve().parents:
        raise DeliveryError(f"{folder}: leads outside {out_dir}; mixbuild delivers only inside it")
    if folder.is_symlink() or folder.exists() and not folder.is_dir():
        what = "a symbolic link" if folder.is_symlink() else "not a folder"
        raise DeliveryError(f"{folder}: is {what}; mixbuild delivers into a folder of its own there "
                            "(move it, or deliver into another --out)")
    return folder


def _switch_target(cache: Cache, files: dict[str, str], folder: Path, memo: FileDigestMemo) -> None:
    """Deliver `files` (name -> cache blob) into `folder` in one switch, leaving no sibling behind."""
    if not settle(folder, _sibling_listed, MANIFEST):  # a killed build's leftovers first
        raise DeliveryError(f"{next_path(folder)}: holds files that {folder} also has in another version (saved "
                            "while a build was delivering); move them out and build again")
    for name in files:
        if (folder / name).is_symlink():  # replacing it is fine, but the user meant it: say so instead
            raise DeliveryError(f"{folder / name}: is a symbolic link; mixbuild never writes through one (remove "
                                "it, or deliver into another --out)")
    stale = (_listed_files(folder / MANIFEST) or set()) - set(files)
    unchanged = {name for name, blob in files.items() if (folder / name).is_file() and memo.digest(folder / name) == blob}
    if unchanged == set(files) and not any((folder / name).is_file() for name in stale):
        return  # the folder holds exactly this delivery already (a no-op build): nothing to switch
    staged = next_path(folder)
    staged.mkdir(parents=True)
    try:
        switch(folder, staged, _stage(cache, files, folder, staged, stale, unchanged))
    finally:  # after the switch the old contents; after a failure the unfinished new ones
        settle(folder, _sibling_listed, MANIFEST)


def _stage(cache: Cache, files: dict[str, str], folder: Path, staged: Path, stale: set[str],
           unchanged: set[str]) -> list[str]:
    """Assemble the folder's next contents in `staged`; return the entries to move over at the switch.

    The manifest goes first, so that a sibling left by a kill lists every new file it may hold. Unchanged
    deliverables and everything that is not a stale deliverable are hard links to the old folder's files."""
    _copy_into(cache.blob_path(files[MANIFEST]), staged / MANIFEST)
    moved = []
    if folder.is_dir():
        sweep_stale_temps(folder)
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name in files or entry.name in stale or is_temp_name(entry.name):
                continue
            if entry.is_file(follow_symlinks=False) or entry.is_symlink():
                carry(Path(entry.path), staged / entry.name)
            else:
                moved.append(entry.name)  # the user's folder (or a special file): moved at the switch
    for name, blob in sorted(files.items()):
        if name == MANIFEST:
            continue
        if name in unchanged:
            carry(folder / name, staged / name)
        else:
            _copy_into(cache.blob_path(blob), staged / name)
    return moved


def _copy_into(source: Path, dest: Path) -> None:
    """Copy a cache object into the sibling and fsync it. No temp file: the sibling is never shown, a partial
    file there is removed by `settle`, and the switch fsyncs the folder once. An error names `dest` (a full
    disk must say where, not name the cache object read)."""
    try:
        shutil.copyfile(source, dest)
        fd = os.open(dest, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), str(dest)) from exc


def _read_manifest(path: Path) -> tuple[str, set[str], set[str]] | None:
    """(target, album titles, listed file names) of a manifest.json; None if missing or malformed."""
    try:
        manifest = json.loads(path.read_bytes())
        entries = manifest["files"]
        listed = {entry["path"] for entry in entries}
        # the album file's title: manifests written before titles were recorded have none
        titles = {entry.get("title") for entry in entries if "track" in entry and entry["track"] is None}
        if "cue_sheet" in manifest:
            listed.add(manifest["cue_sheet"]["path"])
        target = manifest["target"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None
    if not isinstance(target, str) or not all(isinstance(p, str) for p in listed | titles):
        return None
    names = {Path(p).name for p in listed}
    if any(n in ("", ".", "..", MANIFEST) for n in names) or names != listed:
        return None  # mixbuild lists plain names in the folder: anything else is not its manifest
    return target, titles, names


def _listed_files(path: Path) -> set[str] | None:
    manifest = _read_manifest(path)
    return None if manifest is None else manifest[2]


def _sibling_listed(folder: Path) -> set[str]:
    """The names mixbuild delivers in `folder`: its manifest and what the manifest lists."""
    return (_listed_files(folder / MANIFEST) or set()) | {MANIFEST}


def _remove_stale(folder: Path, names: set[str]) -> None:
    """Unlink folder/<name> for each name that is a file or link (never a folder)."""
    for name in sorted(names):
        path = folder / name
        if path.is_symlink() or path.is_file():
            path.unlink(missing_ok=True)


def _prune_other_targets(out_dir: Path, delivered: set[str], album_titles: set[str]) -> None:
    """Remove the deliveries of this album's targets that the spec no longer has."""
    if not out_dir.is_dir():
        return
    for folder in sorted(out_dir.iterdir()):
        if folder.name in delivered or folder.is_symlink() or not folder.is_dir():
            continue
        manifest = _read_manifest(folder / MANIFEST)
        if manifest is None:
            continue  # not a mixbuild delivery, or not one that can be read safely
        target, titles, names = manifest
        if target != folder.name or not titles or not titles <= album_titles:
            continue  # another album's delivery sharing this out dir, or a folder renamed by hand
        _remove_stale(folder, names)
        (folder / MANIFEST).unlink(missing_ok=True)
        sweep_stale_temps(folder)
        try:
            folder.rmdir()
        except OSError:
            pass  # the user's own files are still in it
