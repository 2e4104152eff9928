"""`mixbuild validate`, `schema` and `analyze`: check specs and measure files, render nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from .common import JsonOpt, SpecArg, app, fail, report_spec_error


@app.command()
def validate(spec: Path = SpecArg, as_json: bool = JsonOpt) -> None:
    """Check a spec: types, ranges, routing, files. Exit 0 when valid, 2 with one line per problem."""
    from ..specs import SpecError, load

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


SCHEMA_KINDS = ("album", "song")
SCHEMA_ID = "https://mixbuild.invalid/schema/{kind}.schema.json"
"""Each schema's `$id`: a name, not a place to fetch it from (`mixbuild schema --write DIR` writes the files)."""


def spec_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) of an album or song spec; a spec may name it in its own `$schema`."""
    from ..specs import AlbumFile, Song
    from ..specs.documents import SCHEMA_KEY

    schema = (AlbumFile if kind == "album" else Song).model_json_schema()
    schema["properties"] = {SCHEMA_KEY: {"type": "string", "description": "This file's JSON Schema (for editors)."},
                            **schema["properties"]}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID.format(kind=kind), **schema}


@app.command()
def schema(kind: str = typer.Argument("album", help="album or song"),
           write: Optional[Path] = typer.Option(None, "--write", help="Write album.schema.json and "
                                                                      "song.schema.json into this folder.")) -> None:
    """Print the JSON Schema of an album or song spec, for editor completion and checks (a YAML spec may name it
    in a `# yaml-language-server: $schema=...` line, a JSON one in `"$schema"`)."""
    from ..atomic import atomic_write_json

    if kind not in SCHEMA_KINDS:
        fail(f"schema: kind must be one of album, song (got {kind!r})", 2)
    if write is None:
        typer.echo(json.dumps(spec_schema(kind), indent=2))
        return
    write.mkdir(parents=True, exist_ok=True)
    for name in SCHEMA_KINDS:
        atomic_write_json(write / f"{name}.schema.json", spec_schema(name))
    typer.echo(f"wrote {write / 'album.schema.json'} and {write / 'song.schema.json'}")


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
    from ..specs import SpecError, load

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
