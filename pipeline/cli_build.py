"""`mixbuild build`, `plan` and `graph`."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Optional

import typer

from stages.registry import RenderError

from . import api
from .cli import JobsOpt, JsonOpt, OutOpt, SpecArg, app, fail, report_spec_error
from .specs import SpecError, load

CacheOpt = typer.Option(None, "--cache", help="Cache directory (default: $MIXBUILD_CACHE or ./cache).")
TargetOpt = typer.Option(None, "--target", help="Only these targets (repeatable).")
SchedulerOpt = typer.Option(None, "--scheduler", envvar="MIXBUILD_SCHEDULER", metavar="ADDRESS",
                            help="Render misses on this dask.distributed scheduler (e.g. tcp://host:8786); "
                                 "workers must share --cache at the same absolute path.")


def run_build(spec: Path, jobs: Optional[int], cache: Optional[Path], out: Path,
              targets: Optional[list[str]], as_json: bool, scheduler: Optional[str] = None) -> api.Report:
    """Build with a progress bar on a terminal; spec errors exit 2, render failures exit 1."""
    on_plan = on_done = None
    progress = contextlib.nullcontext()
    if sys.stderr.isatty() and not as_json:  # rich costs 35 ms to import: only for a terminal
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), transient=True)
        task = progress.add_task("rendering", total=None)
        on_plan = lambda n: progress.update(task, total=n)  # noqa: E731
        on_done = lambda r: progress.update(task, advance=1, description=r.id)  # noqa: E731
    try:
        with progress:
            report = api.build(spec, cache_dir=cache, out_dir=out, jobs=jobs, targets=targets, scheduler=scheduler,
                               on_plan=on_plan, on_done=on_done)
    except SpecError as err:
        report_spec_error(err, as_json)
    except RenderError as err:
        fail(f"render failed: {err}", 1)
    except api.SchedulerError as err:
        fail(f"build failed: {err}", 1)
    except OSError as err:
        fail(f"build failed: {err.filename or ''}: {err.strerror or err}", 1)
    return report


@app.command()
def build(spec: Path = SpecArg, jobs: Optional[int] = JobsOpt, cache: Optional[Path] = CacheOpt, out: Path = OutOpt,
          target: Optional[list[str]] = TargetOpt, as_json: bool = JsonOpt,
          scheduler: Optional[str] = SchedulerOpt) -> None:
    """Render what changed and deliver every target into --out; writes build-report.json there."""
    report = run_build(spec, jobs, cache, out, target, as_json, scheduler)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    typer.echo(summary_line(spec, report, out))


def summary_line(spec: Path, report: api.Report, out: Path) -> str:
    """`built SPEC: N node(s) rendered, M cached, K file(s) in OUT (S s)`."""
    rendered = len(report.rendered)
    return (f"built {spec}: {rendered} node(s) rendered, {len(report.nodes) - rendered} cached, "
            f"{len(report.outputs)} file(s) in {out} ({report.seconds:.2f} s)")


@app.command()
def plan(spec: Path = SpecArg, cache: Optional[Path] = CacheOpt, target: Optional[list[str]] = TargetOpt,
         as_json: bool = JsonOpt) -> None:
    """Each node that would render, and why; cached nodes are listed as such."""
    try:
        entries = api.plan(spec, cache_dir=cache, targets=target)
    except SpecError as err:
        report_spec_error(err, as_json)
    if as_json:
        typer.echo(json.dumps([e.as_dict() for e in entries], indent=2))
        return
    for entry in entries:
        typer.echo(f"{entry.status:7} {entry.id}" + (f": {'; '.join(entry.reasons)}" if entry.reasons else ""))
    stale = sum(e.status == "render" for e in entries)
    typer.echo(f"{stale} of {len(entries)} node(s) would render")


@app.command()
def graph(spec: Path = SpecArg, fmt: str = typer.Option("dot", "--format", help="dot or json"),
          target: Optional[list[str]] = TargetOpt) -> None:
    """The DAG, as Graphviz dot or JSON (nodes with stage and inputs)."""
    if fmt not in ("dot", "json"):
        fail(f"graph: --format must be dot or json (got {fmt!r})", 2)
    try:
        nodes = api.graph(load(spec), target)
    except SpecError as err:
        report_spec_error(err, False)
    if fmt == "json":
        typer.echo(json.dumps([{"id": n.id, "stage": n.kind, "inputs": list(n.inputs)} for n in nodes.values()],
                              indent=2))
        return
    lines = ["digraph mixbuild {", "  rankdir=LR;"]
    for node in nodes.values():
        lines.append(f'  "{node.id}" [label="{node.id}\\n({node.kind})"];')
        lines += [f'  "{Path(src).name if src.startswith("file:") else src}" -> "{node.id}";' for src in node.inputs]
    typer.echo("\n".join(lines + ["}"]))
