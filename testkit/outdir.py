"""What a build left in its output directory: the files' bytes, stray temp files, partial audio."""

from __future__ import annotations

from pathlib import Path

import soundfile

from mixbuild.pipeline.atomic import is_temp_name
from mixbuild.pipeline.manifests import REGISTRY
from mixbuild.pipeline.outlock import LOCK_NAME
from mixbuild.stages.naming import MANIFEST_SUFFIX

from .proc import REPORT


def deliverables(out: Path) -> dict[str, bytes]:
    """Every file under ``out`` but the build report, the folder's lock and its album registry (temp files
    included, so they show up in a diff)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name not in (REPORT, LOCK_NAME, REGISTRY)}


def album_manifest(folder: Path) -> Path:
    """The one album manifest (`<album title>.manifest.json`) in a target folder."""
    (found,) = folder.glob(f"*{MANIFEST_SUFFIX}")
    return found


def temp_files(out: Path) -> list[str]:
    """Temp files (an interrupted atomic write's leftovers) under ``out``."""
    return [str(p.relative_to(out)) for p in out.rglob("*") if is_temp_name(p.name)]


def undecodable(out: Path) -> list[str]:
    """Audio files under ``out`` (temp files skipped) that do not decode in full."""
    bad = []
    for path in out.rglob("*"):
        if path.suffix.lower() not in (".wav", ".flac", ".aiff", ".aif") or is_temp_name(path.name):
            continue
        try:
            info = soundfile.info(str(path))
            data, _ = soundfile.read(str(path))
            if len(data) != info.frames or info.frames == 0:
                bad.append(str(path))
        except Exception:  # noqa: BLE001 - anything that does not decode is a partial file
            bad.append(str(path))
    return bad
