"""The typer `app`, the options and helpers every command shares; imports no command module (no circle)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from .. import api
    from ..specs import SpecError

app = typer.Typer(
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich's formatter costs 0.17 s of imports before any help is shown
)


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        typer.echo(f"mixbuild {version('mixbuild')}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                          help="Print mixbuild's version and exit.")) -> None:
    """mixbuild: records built like software. Specs in, cached reproducible renders out."""


SpecArg = typer.Argument(..., help="Album or song spec (.yaml, .toml or .json).", show_default=False)
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON.")
JobsOpt = typer.Option(None, "-j", "--jobs", min=1, help="Parallel jobs (default: all cores).")
OutOpt = typer.Option(None, "--out", help="Output directory (default: build/ in the spec's project: the nearest "
                                           "folder up from the spec with a mixbuild.toml, else the spec's folder).")
CacheOpt = typer.Option(None, "--cache", help="Cache directory (default: $MIXBUILD_CACHE, else cache/ in the spec's "
                                              "project).")
TargetOpt = typer.Option(None, "--target", help="Only these targets (repeatable).")
QuietOpt = typer.Option(False, "-q", "--quiet", help="Print only errors and warnings.")
VerboseOpt = typer.Option(False, "-v", "--verbose", help="Also a line per cached node.")


class Stopped(BaseException):
    """Ctrl-C or SIGTERM (a CI cancel, a timeout, systemd): raised in the main thread by the signal's handler,
    a BaseException so that no `except Exception` (nor click, which would say "Aborted!" and exit 1) takes it.
    It unwinds the build (workers stopped, lease released, temporary files removed) up to `main`."""

    def __init__(self, what: str, code: int) -> None:
        super().__init__(what)
        self.what, self.code = what, code


def fail(message: str, code: int) -> NoReturn:
    """Print one line to stderr and exit with `code` (2 spec error, 1 render failure)."""
    typer.echo(message, err=True)
    raise typer.Exit(code)


def report_spec_error(err: SpecError, as_json: bool) -> NoReturn:
    """Print every spec problem (one a line, or as JSON) and exit 2."""
    if as_json:
        typer.echo(json.dumps({"valid": False, "problems": [p.as_dict() for p in err.problems]}, indent=2))
    else:
        for problem in err.problems:
            typer.echo(str(problem), err=True)
    raise typer.Exit(err.exit_code)


def summary_line(spec: Path, report: api.Report, out: Path) -> str:
    """`built SPEC: N node(s) rendered, M cached, K file(s) in OUT (S s)`: build's and watch's report line."""
    rendered = len(report.rendered)
    return (f"built {spec}: {rendered} node(s) rendered, {len(report.nodes) - rendered} cached, "
            f"{len(report.outputs)} file(s) in {out} ({report.seconds:.2f} s)")
