"""The album manifests in a target folder: which album delivered which files there.

Each album's manifest (`<album title>.manifest.json`, `stages.naming.manifest_name`) lists the files it
delivered; a folder may hold several albums'. Builds before per-album manifests wrote one `manifest.json`:
it is read as its album's, and replaced by that album's next delivery.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from mixbuild.stages.naming import MANIFEST_SUFFIX

from .atomic import atomic_write_json

LEGACY_MANIFEST = "manifest.json"

REGISTRY = ".mixbuild-albums.json"
"""In the out folder (beside the lock, outside every target folder, so no upload of a target carries it): which
spec delivered which manifests into which target folder. An album that is retitled keeps its identity (its spec),
so its old files are its own stale ones, while another spec's album is another album."""

Registry = dict[str, dict[str, list[str]]]
"""spec path -> target -> the manifest names that spec's album may have in that target's folder."""


def read_registry(out_dir: Path) -> Registry:
    """The out folder's registry (empty where there is none or it is unreadable)."""
    try:
        data = json.loads((out_dir / REGISTRY).read_bytes())
    except (OSError, ValueError, RecursionError):
        return {}
    albums = data.get("albums") if isinstance(data, dict) else None
    if not isinstance(albums, dict):
        return {}
    return {spec: {target: [n for n in names if isinstance(n, str) and is_manifest_name(n)]
                   for target, names in targets.items() if isinstance(names, list)}
            for spec, targets in albums.items() if isinstance(targets, dict)}


def write_registry(out_dir: Path, registry: Registry) -> None:
    atomic_write_json(out_dir / REGISTRY, {"albums": registry})


@dataclass(frozen=True)
class Manifest:
    """One album's manifest in a folder: its file name, target, album title(s) and the files it lists."""

    name: str
    target: str
    titles: frozenset[str]
    listed: frozenset[str]

    @property
    def names(self) -> frozenset[str]:
        """The manifest itself and what it lists: the album's files in the folder."""
        return self.listed | {self.name}


def is_manifest_name(name: str) -> bool:
    return name.endswith(MANIFEST_SUFFIX) or name == LEGACY_MANIFEST


def read_manifest(path: Path) -> Manifest | None:
    """The manifest at `path`; None if missing, malformed, or listing anything but plain names in its folder."""
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
    if any(n in ("", ".", "..") or is_manifest_name(n) for n in names) or names != listed:
        return None  # mixbuild lists plain names in the folder: anything else is not its manifest
    return Manifest(path.name, target, frozenset(titles), frozenset(names))


def manifests(folder: Path) -> list[Manifest]:
    """The readable album manifests in `folder` (none if it is not a folder)."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    found = (read_manifest(folder / name) for name in names if is_manifest_name(name))
    return [manifest for manifest in found if manifest is not None]


def delivered_names(folder: Path) -> set[str]:
    """Every name in `folder` an album delivered: each manifest-named file (even one cut short by a kill) and
    what each readable manifest lists."""
    try:
        names = {name for name in os.listdir(folder) if is_manifest_name(name)}
    except OSError:
        return set()
    for manifest in manifests(folder):
        names |= manifest.names
    return names
