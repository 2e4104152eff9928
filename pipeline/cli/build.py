"""`mixbuild demo`, `build`, `plan` and `graph`: the commands that plan or render a spec's DAG."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from mixbuild.stages.naming import MANIFEST_SUFFIX

from ..project import default_out
from .common import (CacheOpt, JobsOpt, JsonOpt, OutOpt, QuietOpt, SpecArg, TargetOpt, VerboseOpt, app, fail,
                     report_spec_error, summary_line)
from .progress import BuildProgress

if TYPE_CHECKING:  # the command modules import the engine when a command runs: `--help` stays fast
    from .. import api

SchedulerOpt = typer.Option(None, "--scheduler", envvar="MIXBUILD_SCHEDULER", metavar="ADDRESS",
                            help="Render misses on this dask.distributed scheduler (e.g. tcp://host:8786); "
                                 "workers must share --cache at the same absolute path.")


@app.command()
def demo(
    directory: Path = typer.Argument(Path("mixbuild-demo"), help="Where the demo project goes (its specs are "
                                                                 "written only if it has none)."),
    stems_only: bool = typer.Option(False, "--stems-only", help="Only write the synthesised stems."),
    jobs: Optional[int] = JobsOpt,
    out: Optional[Path] = OutOpt,
) -> None:
    """Write the demo project (specs and synthesised stems) into DIRECTORY, render every target, print what was
    delivered. Nothing is written beside the installed package."""
    from ..demo_stems import write_demo_stems

    root = directory
    copied = _write_demo_specs(root)
    if copied:
        typer.echo(f"demo: {copied} spec file(s) written under {root}")
    out = out or default_out(root / "album.yaml")
    written = write_demo_stems(root / "stems")
    typer.echo(f"demo: {len(written)} stem file(s) written under {root / 'stems'}"
               + ("" if written else " (all present already)"))
    if stems_only:
        return
    report = run_build(root / "album.yaml", jobs, None, out, None, False)
    rendered = len(report.rendered)
    typer.echo(f"demo: {rendered} node(s) rendered, {len(report.nodes) - rendered} cached "
               f"({report.seconds:.1f} s)" + (" - nothing changed, nothing re-rendered" if not rendered else ""))
    typer.echo(delivery_table(out))


def delivery_table(out: Path) -> str:
    """song, target, LUFS, dBTP, file: read from each album manifest in each target's folder."""
    rows = [("song", "target", "LUFS", "dBTP", "file")]
    figure = lambda value: "-" if value is None else f"{value:.2f}"  # noqa: E731  (None: silence)
    for manifest_path in sorted(out.glob(f"*/*{MANIFEST_SUFFIX}")):
        manifest = json.loads(manifest_path.read_text())
        for entry in manifest["files"]:
            song = entry["title"] if entry["track"] is not None else f"{entry['title']} (album)"
            rows.append((song, manifest["target"], figure(entry["integrated_lufs"]),
                         figure(entry["true_peak_dbtp"]), f"{manifest_path.parent.name}/{entry['path']}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def _write_demo_specs(root: Path) -> int:
    """Copy the demo's specs (package data `mixbuild.demo_project`; configs/demo in a checkout) into `root`
    unless it has an album.yaml already (the user's edits are kept); how many files were written."""
    from importlib import resources

    from ..atomic import atomic_write_bytes

    if (root / "album.yaml").exists():
        return 0
    try:
        source: Any = resources.files("mixbuild.demo_project")
    except ModuleNotFoundError:  # a source checkout on sys.path, not an install: configs/demo is the same files
        source = Path(__file__).resolve().parents[2] / "configs" / "demo"
    names = ["album.yaml", *(f"songs/{item.name}" for item in source.joinpath("songs").iterdir()
                             if item.name.endswith(".yaml"))]
    for name in names:
        atomic_write_bytes(root / name, source.joinpath(name).read_bytes())
    return len(names)


def compile_kernels_if_cold() -> None:
    """Compile the DSP kernels here, saying so, when numba's cache lacks them (the first build after an install
    or an upgrade): once, instead of silently in every worker."""
    from mixbuild.stages.dsp.warmup import kernels_cold, kernels_marked, mark_kernels, warm_up

    if kernels_marked():
        return
    if kernels_cold():
        typer.echo("compiling mixbuild's DSP kernels, once for this install (about 25 s; `mixbuild warm` does "
                   "this ahead) ...", err=True)
        started = time.perf_counter()
        warm_up()
        typer.echo(f"compiled in {time.perf_counter() - started:.1f} s", err=True)
    mark_kernels()


@app.command()
def warm() -> None:
    """Compile the DSP kernels into numba's cache now (the first build after an install would, ~20 s)."""
    from mixbuild.stages.dsp.warmup import kernels_cold, kernels_marked, mark_kernels, warm_up

    if kernels_marked() or not kernels_cold():
        mark_kernels()
        typer.echo("the DSP kernels are compiled already")
        return
    started = time.perf_counter()
    warm_up()
    mark_kernels()
    typer.echo(f"compiled the DSP kernels in {time.perf_counter() - started:.1f} s")


def run_build(spec: Path, jobs: Optional[int], cache: Optional[Path], out: Optional[Path],
              targets: Optional[list[str]], as_json: bool, scheduler: Optional[str] = None,
              quiet: bool = False, verbose: bool = False, force: Optional[list[str]] = None) -> api.Report:
    """Build with progress (a bar on a terminal, else a line per rendered node on stderr); spec errors exit 2,
    render failures exit 1."""
    from mixbuild.stages.registry import RenderError

    from .. import api
    from ..specs import SpecError

    try:
        with BuildProgress(sys.stderr.isatty() and not as_json, quiet, verbose) as progress:
            report = api.build(spec, cache_dir=cache, out_dir=out, jobs=jobs, targets=targets, scheduler=scheduler,
                               on_plan=progress.on_plan, on_start=progress.on_start, on_done=progress.on_done,
                               on_wait=lambda line: typer.echo(line, err=True),
                               before_render=None if scheduler else compile_kernels_if_cold, force=force)
    except SpecError as err:
        report_spec_error(err, as_json)
    except RenderError as err:
        fail(f"render failed: {err}", 1)
    except (api.SchedulerError, api.DeliveryError) as err:
        fail(f"build failed: {err}", 1)
    except OSError as err:
        fail(f"build failed: {err.filename or ''}: {err.strerror or err}", 1)
    for line in report.warnings:
        typer.echo(f"warning: {line}", err=True)
    return report


@app.command()
def build(spec: Path = SpecArg, jobs: Optional[int] = JobsOpt, cache: Optional[Path] = CacheOpt,
          out: Optional[Path] = OutOpt,
          target: Optional[list[str]] = TargetOpt, as_json: bool = JsonOpt,
          scheduler: Optional[str] = SchedulerOpt,
          dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Say what would render (as `plan` does); "
                                                                       "render and deliver nothing."),
          force: bool = typer.Option(False, "--force", help="Render the NODEs (all nodes if none) again, "
                                                            "cached or not."),
          nodes: Optional[list[str]] = typer.Argument(None, help="With --force: the node ids to render again.",
                                                      show_default=False),
          quiet: bool = QuietOpt, verbose: bool = VerboseOpt) -> None:
    """Render what changed and deliver every target into --out; writes build-report.json there, and prints
    what was delivered (song, target, LUFS, dBTP, file)."""
    out = out or default_out(spec)
    if nodes and not force:
        fail(f"build: {nodes[0]!r}: node ids are for --force (render them again); without it, build renders "
             "what changed", 2)
    if dry_run:
        show_plan(spec, cache, out, target, as_json, exit_code=False)
        return
    report = run_build(spec, jobs, cache, out, target, as_json, scheduler, quiet, verbose,
                       (nodes or ["*"]) if force else None)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    elif not quiet:
        typer.echo(summary_line(spec, report, out))
        typer.echo(delivery_table(out))


@app.command()
def plan(spec: Path = SpecArg, cache: Optional[Path] = CacheOpt, out: Optional[Path] = OutOpt,
         target: Optional[list[str]] = TargetOpt, as_json: bool = JsonOpt,
         exit_code: bool = typer.Option(False, "--exit-code", help="Exit 1 when something would render "
                                                                    "(0 when all is cached), as `git diff` does.")) -> None:
    """Each node that would render, and why (against the last build into --out); cached nodes are listed as such.
    --json gives each node's changed params and inputs as data."""
    show_plan(spec, cache, out, target, as_json, exit_code)


def show_plan(spec: Path, cache: Optional[Path], out: Optional[Path], target: Optional[list[str]], as_json: bool,
              exit_code: bool) -> None:
    """Print the plan (lines, or JSON); with `exit_code`, exit 1 when a node would render."""
    from .. import api
    from ..specs import SpecError

    try:
        entries = api.plan(spec, cache_dir=cache, targets=target, out_dir=out)
    except SpecError as err:
        report_spec_error(err, as_json)
    stale = sum(e.status == "render" for e in entries)
    if as_json:
        typer.echo(json.dumps([e.as_dict() for e in entries], indent=2))
    else:
        for entry in entries:
            typer.echo(f"{entry.status:7} {entry.id}" + (f": {'; '.join(entry.reasons)}" if entry.reasons else ""))
        typer.echo(f"{stale} of {len(entries)} node(s) would render")
    if exit_code and stale:
        raise typer.Exit(1)


@app.command()
def graph(spec: Path = SpecArg, fmt: str = typer.Option("dot", "--format", help="dot or json"),
          target: Optional[list[str]] = TargetOpt) -> None:
    """The DAG, as Graphviz dot or JSON (nodes with stage and named inputs)."""
    if fmt not in ("dot", "json"):
        fail(f"graph: --format must be dot or json (got {fmt!r})", 2)
    from .. import api
    from ..specs import SpecError, load

    try:
        nodes = api.graph(load(spec), target)
    except SpecError as err:
        report_spec_error(err, False)
    if fmt == "json":
        typer.echo(json.dumps([{"id": n.id, "stage": n.kind, "inputs": n.inputs} for n in nodes.values()], indent=2))
        return
    lines = ["digraph mixbuild {", "  rankdir=LR;"]
    for node in nodes.values():
        lines.append(f'  "{node.id}" [label="{node.id}\\n({node.kind})"];')
        for name, wire in node.inputs.items():
            for src in (wire,) if isinstance(wire, str) else wire:
                source = Path(src).name if src.startswith("file:") else src
                lines.append(f'  "{source}" -> "{node.id}" [label="{name}"];')
    typer.echo("\n".join(lines + ["}"]))
