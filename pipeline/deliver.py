"""Put the album exports' files in the output directory: atomically, and only where they changed.

Files mixbuild delivered earlier that are no longer part of the delivery (a song renamed, a target
dropped from the spec) are removed, so that `out_dir/<target>/` holds exactly what the spec says.
Only files a previous `manifest.json` listed are ever removed; anything else in the folder stays.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterable

from .atomic import atomic_path, sweep_stale_temps
from .cache import Cache
from .digest import digest_file
from .executor import NodeResult

ALBUM_EXPORT_PREFIX = "album/export/"


class DeliveryError(RuntimeError):
    """A deliverable's place in the out folder cannot be written safely (a symbolic link there, a target
    folder leading outside): one line, and nothing the user owns is touched."""

MANIFEST = "manifest.json"


def deliver(results: list[NodeResult], cache: Cache, out_dir: Path,
            prune_targets: bool = False) -> list[dict[str, Any]]:
    """Copy every file of every album export into `out_dir/<target>/`; return path, digest, target.

    Stale deliverables are removed, so that nobody uploads a file the spec no longer produces:

    - in each delivered target's folder, the files the previous `manifest.json` listed (entries'
      `path`, `cue_sheet.path`) that the new delivery does not contain (e.g. `01 - Old Title.wav`
      after a song's title changed). They are removed after the new files are in place and before
      the new manifest replaces the old one, so a build killed in between still finds them listed.
    - with `prune_targets` (the caller built every target of the spec, not a `--target` subset):
      each other folder `out_dir/<name>/` whose manifest says it is target `<name>` of this same
      album (its album file's title equals this delivery's) loses its listed files and manifest,
      and the folder itself once empty (a target dropped from the spec).

    Never removed: files no manifest listed (the user's), and anything in a folder whose old manifest
    is unreadable or malformed (left as it is: better a stale file than a lost one; the new manifest
    written there makes the next build's cleanup exact again).
    """
    delivered = []
    sweep_stale_temps(out_dir)  # e.g. the build report's, left by a build killed while writing it
    album_titles: set[str] = set()
    delivered_targets: set[str] = set()
    for result in results:
        if not result.id.startswith(ALBUM_EXPORT_PREFIX):
            continue
        target = result.id[len(ALBUM_EXPORT_PREFIX):]
        delivered_targets.add(target)
        files = cache.load_json(result.digest)["files"]
        folder = (out_dir / target).resolve()
        if out_dir.resolve() not in folder.parents:
            raise DeliveryError(f"{out_dir / target}: leads outside {out_dir}; mixbuild delivers only inside it")
        previous = _listed_files(folder / MANIFEST)  # read before the new manifest replaces it
        folder.mkdir(parents=True, exist_ok=True)
        sweep_stale_temps(folder)  # temp files of a build killed mid-copy
        dests = {name: folder / Path(name).name for name in sorted(files)}
        for dest in dests.values():
            if dest.is_symlink():  # writing "to" it would overwrite whatever it points to
                raise DeliveryError(f"{dest}: is a symbolic link; mixbuild never writes through one (remove it, "
                                    "or deliver into another --out)")
        for name, dest in dests.items():
            if name != MANIFEST:
                _copy_if_changed(cache, files[name]["blob"], dest)
        if previous is not None:
            _remove_stale(folder, previous - {d.name for d in dests.values()}, dests.values())
        # the manifest last: until it is replaced, the old one still lists what is stale
        manifest_blob = files[MANIFEST]["blob"]
        new_manifest = _read_manifest(cache.blob_path(manifest_blob))
        if new_manifest is not None:
            album_titles |= new_manifest[1]
        _copy_if_changed(cache, manifest_blob, dests[MANIFEST])
        delivered += [{"target": target, "path": str(dest), "digest": files[name]["blob"]}
                      for name, dest in dests.items()]
    if prune_targets and album_titles:
        _prune_other_targets(out_dir, delivered_targets, album_titles)
    return delivered


def _copy_if_changed(cache: Cache, blob: str, dest: Path) -> None:
    """Put cache object `blob` at `dest` atomically, unless `dest` already holds exactly those bytes."""
    if not (dest.is_file() and digest_file(dest) == blob):  # read in blocks: an album file is never held whole
        with atomic_path(dest) as tmp:
            shutil.copyfile(cache.blob_path(blob), tmp)


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


def _remove_stale(folder: Path, names: set[str], keep: Iterable[Path] = ()) -> None:
    """Unlink folder/<name> for each name, unless it is one of `keep` under another spelling
    (a title changed only in case, on a case-insensitive file system)."""
    kept: set[tuple[int, int]] = set()
    for path in keep:
        try:
            st = os.stat(path)
            kept.add((st.st_dev, st.st_ino))
        except OSError:
            pass
    for name in sorted(names):
        path = folder / name
        try:
            st = os.lstat(path)
        except OSError:
            continue  # already gone
        if (st.st_dev, st.st_ino) in kept or os.path.isdir(path) and not os.path.islink(path):
            continue
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
