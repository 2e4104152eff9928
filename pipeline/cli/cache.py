"""`mixbuild cache stats|verify|prune`: a sub-app of its own, added to `app` under `cache`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from .common import CacheOpt, JsonOpt, app, fail

if TYPE_CHECKING:  # the cache (numpy and all) is imported when a command runs: `--help` stays fast
    from ..cache import Cache


cache_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Inspect, verify and bound the cache.")
app.add_typer(cache_app, name="cache")


def _open(cache: Optional[Path]) -> Cache:
    from ..cache import Cache, resolve_cache_dir

    return Cache(resolve_cache_dir(cache))


def human_bytes(size: float) -> str:
    """``340 MB``, ``1.2 GB``: decimal units (1 GB = 10**9 bytes, as MIXBUILD_CACHE_MAX_GB), two or three digits."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 999.5 or unit == "TB":
            break
        size /= 1000
    if unit == "B":
        return f"{int(size)} B"
    return f"{size:.1f} {unit}" if size < 9.95 else f"{size:.0f} {unit}"


def _limit_line(used_bytes: int, limit_bytes: int | None) -> str:
    """``limit: 25 GB (MIXBUILD_CACHE_MAX_GB unset: the default), 3% full``."""
    from ..cache import LIMIT_ENV_VAR
    from ..cache.limit import EVICT_TO_FRACTION, evict_target

    setting = os.environ.get(LIMIT_ENV_VAR, "").strip()
    source = f"{LIMIT_ENV_VAR}={setting}" if setting else f"{LIMIT_ENV_VAR} unset: the default"
    if limit_bytes is None:
        return f"limit: none ({source})"
    if limit_bytes == 0:
        return f"limit: 0 B ({source}): each build keeps only what it used"
    full = f"{100 * used_bytes / limit_bytes:.0f}% full"
    if used_bytes > limit_bytes:
        full += (f": the next build evicts down to {100 * EVICT_TO_FRACTION:.0f}% of it "
                 f"({human_bytes(evict_target(limit_bytes))}), keeping what it uses")
    return f"limit: {human_bytes(limit_bytes)} ({source}), {full}"


@cache_app.command()
def stats(cache: Optional[Path] = CacheOpt, as_json: bool = JsonOpt) -> None:
    """Size (in human units; bytes with --json), entry counts, the size limit and how full the cache is."""
    from ..cache import CacheLimitError, max_bytes

    try:
        limit_bytes = max_bytes()
    except CacheLimitError as err:
        fail(f"cache stats: {err}", 2)
    figures = _open(cache).stats()
    used = figures["object_bytes"]
    if as_json:
        figures |= {"limit_bytes": limit_bytes, "used_fraction": used / limit_bytes if limit_bytes else None}
        typer.echo(json.dumps(figures, indent=2))
        return
    typer.echo("\n".join([
        f"cache: {figures['root']}",
        f"size: {human_bytes(used)} in {figures['objects']} objects ({figures['arrays']} audio arrays, "
        f"{figures['json_objects']} JSON, {figures['blobs']} encoded files); {figures['actions']} actions",
        _limit_line(used, limit_bytes),
        f"running builds: {figures['live_leases']}",
    ]))


@cache_app.command()
def verify(cache: Optional[Path] = CacheOpt, as_json: bool = JsonOpt) -> None:
    """Re-hash every object; list bad entries and exit 1 if there are any."""
    bad = _open(cache).verify()
    if as_json:
        typer.echo(json.dumps({"bad": bad}, indent=2))
    else:
        for entry in bad:
            typer.echo(f"bad: {entry.get('path')}: {entry.get('reason')}")
        typer.echo(f"{len(bad)} bad entr{'y' if len(bad) == 1 else 'ies'}")
    raise typer.Exit(1 if bad else 0)


@cache_app.command()
def prune(cache: Optional[Path] = CacheOpt,
          max_size_gb: Optional[float] = typer.Option(None, "--max-size-gb", min=0),
          older_than_days: Optional[float] = typer.Option(None, "--older-than-days", min=0),
          as_json: bool = JsonOpt) -> None:
    """Remove least-recently-used entries by size or age; never what a running build holds."""
    result = _open(cache).prune(
        max_size_bytes=None if max_size_gb is None else int(max_size_gb * 1e9),
        older_than_s=None if older_than_days is None else older_than_days * 86400)
    typer.echo(json.dumps(result, indent=2) if as_json else
               "\n".join(f"{name}: {value}" for name, value in result.items()))
