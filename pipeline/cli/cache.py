"""`mixbuild cache stats|verify|prune`: a sub-app of its own, added to `app` under `cache`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..cache import Cache, resolve_cache_dir
from .common import CacheOpt, JsonOpt, app

cache_app = typer.Typer(no_args_is_help=True, help="Inspect, verify and bound the cache.")
app.add_typer(cache_app, name="cache")


def _open(cache: Optional[Path]) -> Cache:
    return Cache(resolve_cache_dir(cache))


@cache_app.command()
def stats(cache: Optional[Path] = CacheOpt, as_json: bool = JsonOpt) -> None:
    """Size and entry counts."""
    figures = _open(cache).stats()
    typer.echo(json.dumps(figures, indent=2) if as_json else
               "\n".join(f"{name}: {value}" for name, value in figures.items()))


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
