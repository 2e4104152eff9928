"""`mixbuild validate`, `schema` and `analyze`: check specs and measure files, render nothing."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from pydantic import BaseModel

from ..specs import AlbumFile, Song, SpecError, load
from .common import JsonOpt, SpecArg, app, fail, report_spec_error


@app.command()
def validate(spec: Path = SpecArg, as_json: bool = JsonOpt) -> None:
    """Check a spec: types, ranges, routing, files. Exit 0 when valid, 2 with one line per problem."""
    try:
        album = load(spec)
    except SpecError as err:
        report_spec_error(err, as_json)
    stems = sum(len(song.stems) for song in album.songs)
    targets = sorted(album.targets)
    summary = {"valid": True, "file": str(spec), "title": album.title, "songs": len(album.songs),
               "stems": stems, "targets": targets}
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        typer.echo(f"{spec}: valid: album {album.title!r}, {len(album.songs)} song(s), {stems} stem(s), "
                   f"targets {', '.join(targets)}")


@app.command()
def schema(kind: str = typer.Argument("album", help="album or song")) -> None:
    """Print the JSON Schema of an album or song spec, for editor completion and checks."""
    models: dict[str, type[BaseModel]] = {"album": AlbumFile, "song": Song}
    if kind not in models:
        fail(f"schema: kind must be one of album, song (got {kind!r})", 2)
    typer.echo(json.dumps(models[kind].model_json_schema(), indent=2))


@app.command()
def analyze(files: list[Path] = typer.Argument(..., help="Audio files (WAV, FLAC, AIFF, ...)."),
            as_json: bool = JsonOpt) -> None:
    """BS.1770-4 / EBU R128 figures per file: loudness, LRA, true peak, sample peak."""
    from ..analyze import AnalyzeError, analyze_file, to_json_safe

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


@app.command()
def init(stems_dir: Path = typer.Argument(..., help="A folder of stems, or of song folders of stems."),
         output: Path = typer.Option(Path("album.yaml"), "-o", "--output", help="The spec to write."),
         force: bool = typer.Option(False, "--force", help="Replace an existing spec.")) -> None:
    """Write a commented spec from a folder of stems: one stem per file, L/R files paired, stems on buses by
    name (drums, vocals, ...), broadcast-WAV stems at their time reference. It validates as written."""
    from ..atomic import atomic_write_bytes
    from ..init import InitError, spec_text

    if not stems_dir.is_dir():
        fail(f"init: {stems_dir}: is not a folder of stems", 2)
    if output.exists() and not force:
        fail(f"init: {output}: exists; choose another with -o, or --force to replace it", 2)
    try:
        text, skipped = spec_text(stems_dir, output)
    except InitError as err:
        fail(f"init: {err}", 2)
    atomic_write_bytes(output, text.encode("utf-8"))
    for line in skipped:
        typer.echo(f"skipped {line}", err=True)
    try:
        album = load(output)
    except SpecError as err:  # init's own fault: say what is wrong with what it wrote
        report_spec_error(err, False)
    stems = sum(len(song.stems) for song in album.songs)
    typer.echo(f"wrote {output}: {len(album.songs)} song(s), {stems} stem(s); next: mixbuild build {output}")
