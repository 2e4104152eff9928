"""The `mixbuild` command line: one line per problem, exit 2 for spec errors, 1 for render failures.

`common` holds `app` and the shared options; each command module registers its commands on `app` when imported
here, so a new command is one function in the module of its group.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import NoReturn

import typer

from . import spec, build, explain, watch, serve, cache  # noqa: F401 - registration, in the order `--help` lists the commands
from .build import delivery_table
from .common import Stopped, app

__all__ = ["app", "delivery_table", "main"]


def _stop(signum: int, _frame: object) -> None:
    raise Stopped("interrupted", 130) if signum == signal.SIGINT else Stopped("terminated", 143)


def main() -> None:
    """Console entry point: any unexpected error is one line and exit 1, never a traceback; Ctrl-C and
    SIGTERM stop cleanly with one line (exit 130 and 143)."""
    from ..process import tune_process

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    tune_process()
    # When a stop kills the loky workers, the resource tracker they leave unlinks their semaphores and warns
    # that it did, after our one line: its processes inherit this filter.
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"),
                                                          "ignore:resource_tracker:UserWarning"]))
    code: int = 0
    try:
        app()
    except SystemExit as done:  # how every command ends (typer's standalone mode)
        if isinstance(done.code, str):
            typer.echo(done.code, err=True)
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except Stopped as stop:  # one line, then exit at once: a kernel still running on a thread is abandoned
        typer.echo(f"mixbuild: {stop.what}", err=True)
        code = stop.code
    except Exception as err:  # noqa: BLE001 - the last line of defence for the CLI
        typer.echo(f"mixbuild: internal error: {type(err).__name__}: {err}", err=True)
        code = 1
    _leave(code)


def _leave(code: int) -> NoReturn:
    """Exit with `code` once the command is done: everything is written (atomically) by now, so the idle loky
    workers are killed rather than asked to tear down (0.7 s at the end of a cold build with a worker, measured), and
    so is the interpreter's own teardown of numba, numpy and the rest (0.2-0.6 s), with both streams flushed."""
    from ..pools import release_workers

    release_workers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a reader gone (`| head`) or a full disk: nothing more can reach it
            code = code or 1
    os._exit(code)
