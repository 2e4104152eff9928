"""The `mixbuild` command line: one line per problem, exit 2 for spec errors, 1 for render failures."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from .specs import AlbumFile, Song, SpecError, load

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="mixbuild: records built like software. Specs in, cached reproducible renders out.",
)

SpecArg = typer.Argument(..., help="Album or song spec (.yaml, .toml or .json).", show_default=False)
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON.")
JobsOpt = typer.Option(None, "-j", "--jobs", min=1, help="Parallel jobs (default: all cores).")
OutOpt = typer.Option(Path("build"), "--out", help="Output directory.")


def fail(message: str, code: int) -> None:
    """Print one line to stderr and exit with `code` (2 spec error, 1 render failure)."""
    typer.echo(message, err=True)
    raise typer.Exit(code)


def report_spec_error(err: SpecError, as_json: bool) -> None:
    """Print every spec problem (one a line, or as JSON) and exit 2."""
    if as_json:
        typer.echo(json.dumps({"valid": False, "problems": [p.as_dict() for p in err.problems]}, indent=2))
    else:
        for problem in err.problems:
            typer.echo(str(problem), err=True)
    raise typer.Exit(SpecError.exit_code)


@app.command()
def validate(spec: Path = SpecArg, as_json: bool = JsonOpt) -> None:
    """Check a spec: types, ranges, routing, files. Exit 0 when valid, 2 with one line per problem."""
    try:
        album = load(spec)
    except SpecError as err:
        report_spec_error(err, as_json)
    stems = sum(len(song.stems) for song in album.songs)
    summary = {"valid": True, "file": str(spec), "title": album.title, "songs": len(album.songs),
               "stems": stems, "targets": sorted(album.targets)}
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        typer.echo(f"{spec}: valid: album {album.title!r}, {len(album.songs)} song(s), {stems} stem(s), "
                   f"targets {', '.join(summary['targets'])}")


@app.command()
def schema(kind: str = typer.Argument("album", help="album or song")) -> None:
    """Print the JSON Schema of an album or song spec, for editor completion and checks."""
    models = {"album": AlbumFile, "song": Song}
    if kind not in models:
        fail(f"schema: kind must be one of album, song (got {kind!r})", 2)
    typer.echo(json.dumps(models[kind].model_json_schema(), indent=2))


@app.command()
def demo(
    directory: Optional[Path] = typer.Option(None, "--dir", help="Demo project (default: configs/demo)."),
    stems_only: bool = typer.Option(False, "--stems-only", help="Only write the synthesised stems."),
    jobs: Optional[int] = JobsOpt,
    out: Path = OutOpt,
) -> None:
    """Synthesise the demo album's stems, render every target, print what was delivered."""
    from .cli_build import run_build
    from .demo_stems import write_demo_stems

    root = directory or _default_demo_dir()
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
    """song, target, LUFS, dBTP, file: read from each target's manifest.json."""
    rows = [("song", "target", "LUFS", "dBTP", "file")]
    figure = lambda value: "-" if value is None else f"{value:.2f}"  # noqa: E731  (None: silence)
    for manifest_path in sorted(out.glob("*/manifest.json")):
        manifest = json.loads(manifest_path.read_text())
        for entry in manifest["files"]:
            song = entry["title"] if entry["track"] is not None else f"{entry['title']} (album)"
            rows.append((song, manifest["target"], figure(entry["integrated_lufs"]),
                         figure(entry["true_peak_dbtp"]), f"{manifest_path.parent.name}/{entry['path']}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


@app.command()
def analyze(files: list[Path] = typer.Argument(..., help="Audio files (WAV, FLAC, AIFF, ...)."),
            as_json: bool = JsonOpt) -> None:
    """BS.1770-4 / EBU R128 figures per file: loudness, LRA, true peak, sample peak."""
    from .analyze import AnalyzeError, analyze_file, to_json_safe

    try:
        results = [analyze_file(f) for f in files]
    except AnalyzeError as err:
        fail(f"analyze: {err}", 2)
    if as_json:
        typer.echo(json.dumps([to_json_safe(r) for r in results], indent=2))
        return
    for r in results:
        typer.echo(f"{r['file']}: I {r['integrated_lufs']:.1f} LUFS, LRA {r['lra_lu']:.1f} LU, "
                   f"M max {r['momentary_max_lufs']:.1f}, S max {r['short_term_max_lufs']:.1f}, "
                   f"TP {r['true_peak_dbtp']:.2f} dBTP, SP {r['sample_peak_dbfs']:.2f} dBFS, "
                   f"{r['duration_s']:.2f} s, {r['sample_rate']} Hz, {r['channels']} ch")


def _default_demo_dir() -> Path:
    """configs/demo in the current directory, else beside the installed package."""
    here = Path("configs/demo")
    return here if here.is_dir() else Path(__file__).resolve().parents[1] / "configs" / "demo"


def main() -> None:
    """Console entry point: any unexpected error is one line and exit 1, never a traceback."""
    try:
        app()
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as err:  # noqa: BLE001 - the last line of defence for the CLI
        typer.echo(f"mixbuild: internal error: {type(err).__name__}: {err}", err=True)
        sys.exit(1)


from . import cli_build, cli_cache, cli_watch  # noqa: E402,F401 - register their commands on `app`
