"""Put the album exports' files in the output directory: atomically, and only where they changed."""

from __future__ import annotations

import shutil
from pathlib import Path

from .atomic import atomic_path, sweep_stale_temps
from .cache import Cache
from .hashing import digest_bytes
from .executor import NodeResult

ALBUM_EXPORT_PREFIX = "album/export/"


def deliver(results: list[NodeResult], cache: Cache, out_dir: Path) -> list[dict]:
    """Copy every file of every album export into `out_dir/<target>/`; return path, digest, target."""
    delivered = []
    sweep_stale_temps(out_dir)  # e.g. the build report's, left by a build killed while writing it
    swept: set[Path] = set()
    for result in results:
        if not result.id.startswith(ALBUM_EXPORT_PREFIX):
            continue
        target = result.id[len(ALBUM_EXPORT_PREFIX):]
        files = cache.load_json(result.digest)["files"]
        for name, ref in sorted(files.items()):
            source = cache.blob_path(ref["blob"])
            dest = (out_dir / target / Path(name).name).resolve()
            if out_dir.resolve() not in dest.parents:
                raise ValueError(f"refusing to write outside {out_dir}: {name}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.parent not in swept:  # temp files of a build killed mid-copy
                sweep_stale_temps(dest.parent)
                swept.add(dest.parent)
            if not (dest.is_file() and digest_bytes(dest.read_bytes()) == ref["blob"]):
                with atomic_path(dest) as tmp:
                    shutil.copyfile(source, tmp)
            delivered.append({"target": target, "path": str(dest), "digest": ref["blob"]})
    return delivered
