"""The `mixbuild` command line: one line per problem, exit 2 for spec errors, 1 for render failures.

`common` holds `app` and the shared options; each command module registers its commands on `app` when imported
here, so a new command is one function in the module of its group.
"""

from __future__ import annotations

import sys

import typer

from . import spec, build, explain, watch, cache  # noqa: F401 - registration, in the order `--help` lists the commands
from .build import delivery_table
from .common import app, fail

__all__ = ["app", "delivery_table", "main"]


def main() -> None:
    """Console entry point: any unexpected error is one line and exit 1, never a traceback."""
    try:
        app()
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as err:  # noqa: BLE001 - the last line of defence for the CLI
        typer.echo(f"mixbuild: internal error: {type(err).__name__}: {err}", err=True)
        sys.exit(1)
