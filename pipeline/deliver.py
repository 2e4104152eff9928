"""Put the album exports' files in the output directory: each target's folder switches whole.

Files an album delivered earlier that are no longer part of its delivery (a song renamed, a target dropped
from the spec) are removed, so that `out_dir/<target>/` holds exactly what the spec says. Only files the
album's own previous manifest listed are ever removed: another album's files, and anything else in the
folder, stay.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .atomic import is_temp_name, sweep_stale_temps
from .cache import Cache
from .digest import digest_blocks
from .filememo import RACY_WINDOW_NS, FileDigestMemo, stat_signature
from .manifests import (LEGACY_MANIFEST, delivered_names, manifests, read_manifest, read_registry,
                        write_registry)
from .dirswitch import carry, next_path, settle, switch
from .executor import NodeResult
from .outlock import out_folder_lock
from .worker import stored_parts

ALBUM_EXPORT_PREFIX = "album/export/"


class DeliveryError(RuntimeError):
    """A deliverable's place in the out folder cannot be written safely (a symbolic link there, a target
    folder leading outside): one line, and nothing the user owns is touched."""

DELIVERY_THREADS = 4
"""Targets delivered at once: each is mostly disk writes and fsyncs, which overlap one another and the renders
still running."""


class Delivery:
    """Deliver each target into `out_dir/<target>/` as soon as its album export is resolved, on threads, while
    the build renders on: the first target's files are written while the last one's nodes still render.

    Use it around the build: `on_done` takes every resolved node, `finish` waits for every target and does
    what needs them all; leaving the block waits for a delivery still running (after a failed render) and
    releases the out folder's lock (`outlock.py`), taken when the first target delivers. `album` identifies
    the album across builds (its spec's path) in the out folder's registry (`manifests.REGISTRY`).

    Each target's folder switches whole (`dirswitch.py`): its next contents are assembled beside it and
    exchanged with it in one step, so a reader (and a build killed at any point, or a full disk) sees the
    previous complete delivery or the new one, each with the manifests that match it. The next contents are
    the new delivery plus everything else the folder held, except the files this album's previous manifest
    listed that the new delivery no longer has (e.g. `01 - Old Title.wav` after a song's title changed):
    nobody uploads a file the spec no longer produces, and nothing this album did not deliver is dropped.
    A file name another album's manifest in the folder lists is refused (one line), never overwritten.

    With `prune_targets` (the caller built every target of the spec, not a `--target` subset), each other
    folder `out_dir/<name>/` holding a manifest of this same album for target `<name>` loses that manifest
    and what it lists, and the folder itself once empty (a target dropped from the spec). A manifest that is
    unreadable or malformed accounts for nothing (better a stale file than a lost one; the album's next
    manifest makes the cleanup exact again).
    """

    def __init__(self, cache: Cache, out_dir: Path, album: str, prune_targets: bool = False,
                 on_wait: Callable[[str], None] | None = None) -> None:
        self._cache, self._out, self._album, self._prune = cache, out_dir, album, prune_targets
        self._on_wait = on_wait
        self._memo = cache.file_digest_memo()  # a delivered file unchanged since the last build is not read again
        self._held = ExitStack()
        self._pool = ThreadPoolExecutor(DELIVERY_THREADS, thread_name_prefix="mixbuild-deliver")
        self._jobs: dict[str, Future[list[dict[str, Any]]]] = {}
        self._guard = threading.Lock()  # over the out folder's lock, the registry and the titles
        self._registry: dict[str, Any] | None = None
        self._titles: set[str] = set()

    def __enter__(self) -> Delivery:
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self._pool.shutdown(wait=True, cancel_futures=True)
        finally:
            self._held.close()

    def on_done(self, result: NodeResult) -> None:
        """Start delivering the target of an album export once it is resolved (rendered or cached)."""
        if result.id.startswith(ALBUM_EXPORT_PREFIX):
            target = result.id[len(ALBUM_EXPORT_PREFIX):]
            self._jobs[target] = self._pool.submit(self._deliver_target, target, result.digest)

    def finish(self, results: list[NodeResult]) -> list[dict[str, Any]]:
        """Wait for every target (the first failure in `results`' order is raised); prune the dropped targets'
        folders; path, digest, target of every delivered file, target by target in `results`' order."""
        order = [r.id[len(ALBUM_EXPORT_PREFIX):] for r in results if r.id.startswith(ALBUM_EXPORT_PREFIX)]
        delivered = [entry for target in order for entry in self._jobs[target].result()]
        with self._guard:
            registry = self._registry_now()
            claims = registry.setdefault(self._album, {})
            if self._prune and self._titles:
                _prune_other_targets(self._out, set(self._jobs), self._titles)
                for target in set(claims) - set(self._jobs):
                    del claims[target]
            if self._jobs:
                write_registry(self._out, registry)
        self._memo.flush()
        return delivered

    def _registry_now(self) -> dict[str, Any]:
        """The out folder's registry, read once this build holds the folder's lock (taken here, under _guard)."""
        if self._registry is None:
            self._held.enter_context(out_folder_lock(self._out, self._on_wait))
            sweep_stale_temps(self._out)  # e.g. the build report's, left by a build killed while writing it
            self._registry = read_registry(self._out)
        return self._registry

    def _deliver_target(self, target: str, digest: str) -> list[dict[str, Any]]:
        export = self._cache.load_json(digest)
        entries = {Path(name).name: entry for name, entry in export["files"].items()}
        files = {name: file_digest(entry) for name, entry in entries.items()}
        manifest = export["manifest"]
        own = read_manifest(self._cache.blob_path(files[manifest]))
        titles = own.titles if own is not None else frozenset()
        with self._guard:
            registry = self._registry_now()
            folder = _target_folder(self._out, target)
            self._titles |= titles
            claims = registry.setdefault(self._album, {})
            claimed = set(claims.get(target, [])) - {manifest}
            # claimed before the switch, so that a kill leaves this album owning both its old and new manifests
            claims[target] = sorted(claimed | {manifest})
            write_registry(self._out, registry)
        _switch_target(self._cache, entries, Album(manifest, frozenset(claimed), titles), folder, self._memo)
        with self._guard:
            claims[target] = [manifest]
        return [{"target": target, "path": str(folder / name), "digest": blob} for name, blob in sorted(files.items())]


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


@dataclass(frozen=True)
class Album:
    """The album a delivery is of: its manifest's name, the other manifest names its spec delivered into the
    folder before (a retitled album's), its title(s)."""

    manifest: str
    claimed: frozenset[str]
    titles: frozenset[str]


def file_digest(entry: dict[str, Any]) -> str:
    """The digest (`digest_file`) of the file an album export's entry delivers: a blob's, or a spliced file's."""
    return str(entry["spliced"]["digest"] if "spliced" in entry else entry["blob"])


def _switch_target(cache: Cache, entries: dict[str, dict[str, Any]], album: Album, folder: Path,
                   memo: FileDigestMemo) -> None:
    """Deliver `entries` (name -> the album export's entry: a blob or a spliced file; the album's manifest
    among them) into `folder` in one switch, leaving no sibling behind."""
    files = {name: file_digest(entry) for name, entry in entries.items()}
    manifest = album.manifest
    if not settle(folder, delivered_names, manifest):  # a killed build's leftovers first
        raise DeliveryError(f"{next_path(folder)}: holds files that {folder} also has in another version (saved "
                            "while a build was delivering); move them out and build again")
    for name in files:
        if (folder / name).is_symlink():  # replacing it is fine, but the user meant it: say so instead
            raise DeliveryError(f"{folder / name}: is a symbolic link; mixbuild never writes through one (remove "
                                "it, or deliver into another --out)")
    mine = album.claimed | {manifest}  # a retitled album's old manifest is its own
    found = manifests(folder)
    ours = [m for m in found if m.name in mine or m.name == LEGACY_MANIFEST and m.titles & album.titles]
    others = set().union(*(m.names for m in found if m not in ours))
    clash = sorted(set(files) & others)
    if clash:
        raise DeliveryError(f"{folder / clash[0]}: another album delivered a file of this name here (its manifest "
                            "lists it); deliver into another --out, or retitle the song or album")
    stale = set().union(*(m.names for m in ours)) - set(files)
    unchanged = {name for name, blob in files.items() if (folder / name).is_file() and memo.digest(folder / name) == blob}
    if unchanged == set(files) and not any((folder / name).is_file() for name in stale):
        return  # the folder holds exactly this delivery already (a no-op build): nothing to switch
    staged = next_path(folder)
    staged.mkdir(parents=True)
    staged_stats: dict[str, os.stat_result] = {}
    try:
        switch(folder, staged, _stage(cache, entries, manifest, folder, staged, stale, unchanged, staged_stats))
    finally:  # after the switch the old contents; after a failure the unfinished new ones
        settle(folder, delivered_names, manifest)
    _memoise_delivered(memo, folder, files, staged_stats, unchanged)


def _memoise_delivered(memo: FileDigestMemo, folder: Path, files: dict[str, str],
                       staged_stats: dict[str, os.stat_result], carried: set[str]) -> None:
    """Tell the digest memo what the switched-in files hold, so that the next build reads none of them (the
    link into the sibling and the old name's removal moved a carried file's ctime: without this, every
    build after a change would read the whole folder back). A file counts only where it is still the one
    staged (inode, size, mtime); a carried one only if nothing wrote it within the racy window, so that its
    bytes are those `_switch_target` verified; a copied one holds its blob's bytes (written into the
    sibling, which nobody else writes)."""
    now_ns = time.time_ns()
    for name, staged in staged_stats.items():
        try:
            st = os.lstat(folder / name)
        except OSError:
            continue
        if (st.st_ino, st.st_size, st.st_mtime_ns) != (staged.st_ino, staged.st_size, staged.st_mtime_ns):
            continue
        if name in carried and now_ns - st.st_mtime_ns < RACY_WINDOW_NS:
            continue
        memo.record(folder / name, stat_signature(st), files[name])


def _stage(cache: Cache, entries: dict[str, dict[str, Any]], manifest: str, folder: Path, staged: Path,
           stale: set[str], unchanged: set[str], staged_stats: dict[str, os.stat_result]) -> list[str]:
    """Assemble the folder's next contents in `staged`; return the entries to move over at the switch.

    The manifest goes first, so that a sibling left by a kill lists every new file it may hold. Unchanged
    deliverables and everything that is not a stale deliverable are hard links to the old folder's files.
    `staged_stats` receives each deliverable's stat as staged (see `_memoise_delivered`)."""
    _write_into(cache, entries[manifest], staged / manifest)
    moved = []
    if folder.is_dir():
        sweep_stale_temps(folder)
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name in entries or entry.name in stale or is_temp_name(entry.name):
                continue
            if entry.is_file(follow_symlinks=False) or entry.is_symlink():
                carry(Path(entry.path), staged / entry.name)
            else:
                moved.append(entry.name)  # the user's folder (or a special file): moved at the switch
    for name, source in sorted(entries.items()):
        if name == manifest:
            continue
        if name in unchanged:
            carry(folder / name, staged / name)
        else:
            _write_into(cache, source, staged / name)
        staged_stats[name] = os.lstat(staged / name)
    staged_stats[manifest] = os.lstat(staged / manifest)
    return moved


def _write_into(cache: Cache, entry: dict[str, Any], dest: Path) -> None:
    """Write an entry's file into the sibling and fsync it: a blob copied, a spliced file written from its
    pieces and checked against its digest. No temp file: the sibling is never shown, a partial file there is
    removed by `settle`, and the switch fsyncs the folder once. An error names `dest` (a full disk must say
    where, not name the cache object read)."""
    try:
        if "spliced" in entry:
            _splice_into(cache, entry["spliced"], dest)
        else:
            shutil.copyfile(cache.blob_path(entry["blob"]), dest)
        fd = os.open(dest, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), str(dest)) from exc


def _splice_into(cache: Cache, spliced: dict[str, Any], dest: Path) -> None:
    """Write the file the cache keeps as pieces (its head, ranges of stored blobs or zeros, its tail); one
    that does not hash to its recorded digest (a damaged piece) is refused, so no unverified byte ships."""
    from mixbuild.stages.wav import Part, read_parts

    head, tail = cache.blob_path(spliced["head"]["blob"]), cache.blob_path(spliced["tail"]["blob"])
    parts: list[Part] = [(head, 0, head.stat().st_size), *stored_parts(cache, spliced), (tail, 0, tail.stat().st_size)]
    with dest.open("wb") as sink:
        def written() -> Iterator[bytes | memoryview]:
            handed = 0
            for block in read_parts(parts):
                sink.write(block)
                handed = _start_writeback(sink, handed)
                yield block

        digest = digest_blocks(written())
    if digest != spliced["digest"]:
        raise DeliveryError(f"{dest}: the cache's pieces of this file no longer make the file they were recorded "
                            "as (an object damaged during the build); build again: the next build re-renders it")


WRITEBACK_LAG_BYTES = 8 << 20
"""A delivered file's bytes further back than this are handed to the disk while the rest is written."""


def _start_writeback(sink: BinaryIO, handed: int) -> int:
    """Start the disk writing what `sink` holds from `handed` up to WRITEBACK_LAG_BYTES before its end, and let
    those pages leave memory once written (posix_fadvise DONTNEED); returns where that now reaches.

    The fsync after the last block then waits for a few MB, not the whole album file (a 269 MB album file
    written, hashed and fsynced: 0.137 s against 0.195 s, medians of 8 alternating, `_write_into` alone),
    and a delivered album does not push the cache's objects out of the page cache. Nothing where the
    platform has no posix_fadvise (macOS)."""
    written = sink.tell()
    if not hasattr(os, "posix_fadvise") or written - handed < 2 * WRITEBACK_LAG_BYTES:
        return handed
    sink.flush()
    reach = written - WRITEBACK_LAG_BYTES
    os.posix_fadvise(sink.fileno(), handed, reach - handed, os.POSIX_FADV_DONTNEED)
    return reach


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
        mine = [m for m in manifests(folder) if m.target == folder.name and m.titles and m.titles <= album_titles]
        if not mine:
            continue  # not this album's delivery (another's, unreadable, or a folder renamed by hand)
        for manifest in mine:
            _remove_stale(folder, set(manifest.listed))
            (folder / manifest.name).unlink(missing_ok=True)
        sweep_stale_temps(folder)
        try:
            folder.rmdir()
        except OSError:
            pass  # the user's own files are still in it
