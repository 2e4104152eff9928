"""`mixbuild watch`: rebuild on every saved change, in one warm process."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from ..project import default_out
from .build import compile_kernels_if_cold
from .common import CacheOpt, JobsOpt, OutOpt, SpecArg, Stopped, TargetOpt, app, summary_line

if TYPE_CHECKING:  # the engine is imported when the watch starts: `--help` stays fast
    from ..specs import Album, SpecError

MAX_LISTED_NODES = 12


def _build_once(spec: Path, jobs: Optional[int], cache: Optional[Path], out: Path,
                targets: Optional[list[str]]) -> Album | None:
    """One build with its report line; problems are printed, never raised (the watch goes on)."""
    from mixbuild.stages.registry import RenderError

    from .. import api
    from ..specs import SpecError, load

    stamp = time.strftime("%H:%M:%S")
    try:
        album = load(spec)
    except SpecError as err:
        _print_problems(err)
        typer.echo(f"[{stamp}] not built: fix the spec and save (still watching)", err=True)
        return None
    try:
        report = api.build(spec, cache_dir=cache, out_dir=out, jobs=jobs, targets=targets, album=album,
                           before_render=compile_kernels_if_cold)
    except SpecError as err:  # e.g. an unknown --target
        _print_problems(err)
        return album
    except RenderError as err:
        typer.echo(f"[{stamp}] render failed: {err} (still watching)", err=True)
        return album
    except (api.SchedulerError, api.DeliveryError) as err:
        typer.echo(f"[{stamp}] build failed: {err} (still watching)", err=True)
        return album
    except OSError as err:
        typer.echo(f"[{stamp}] build failed: {err.filename or ''}: {err.strerror or err} (still watching)", err=True)
        return album
    for line in report.warnings:
        typer.echo(f"[{stamp}] warning: {line}", err=True)
    typer.echo(f"[{stamp}] {summary_line(spec, report, out)}")
    rendered = [n.id for n in report.nodes if n.status == "rendered"]
    if 0 < len(rendered) < len(report.nodes):
        more = f" (+{len(rendered) - MAX_LISTED_NODES} more)" if len(rendered) > MAX_LISTED_NODES else ""
        typer.echo(f"  rendered: {', '.join(rendered[:MAX_LISTED_NODES])}{more}")
    return album


def _print_problems(err: SpecError) -> None:
    for problem in err.problems:
        typer.echo(str(problem), err=True)


@app.command()
def watch(spec: Path = SpecArg, jobs: Optional[int] = JobsOpt, cache: Optional[Path] = CacheOpt,
          out: Optional[Path] = OutOpt,
          target: Optional[list[str]] = TargetOpt,
          interval_s: float = typer.Option(0.05, "--interval-s", min=0.02, max=10.0,
                                           help="Seconds between checks of the watched files.")) -> None:
    """Build, then rebuild what changed each time a spec or stem file is saved (Ctrl-C stops)."""
    builds: list[Album | None] = []
    built_into = out or default_out(spec)

    def build_once() -> Album | None:
        album = _build_once(spec, jobs, cache, built_into, target)
        if not builds:  # start the kernels while the user edits: the first tweak is then as fast as the rest
            from mixbuild.stages.dsp.warmup import warm_up
            warm_up()
            typer.echo(f"watching {spec}, its songs and stems for changes; Ctrl-C stops")
        builds.append(album)
        return album

    from ..watch import watch as watch_loop

    try:
        watch_loop(spec, build_once, interval_s)
    except Stopped as stop:
        if stop.code != 130:  # SIGTERM: a termination, reported as one
            raise
        typer.echo("stopped watching")  # Ctrl-C is how a watch ends
