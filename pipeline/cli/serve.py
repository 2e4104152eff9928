"""`mixbuild serve`: keep the engine loaded, so that every `mixbuild` command of this install starts warm."""

from __future__ import annotations

import signal
import time

import typer

from .common import app, fail

DEFAULT_IDLE_MINUTES = 60.0


@app.command()
def serve(idle_minutes: float = typer.Option(DEFAULT_IDLE_MINUTES, "--idle-minutes", min=0.01,
                                             help="Stop after this long with no command running.")) -> None:
    """Keep the engine and kernels loaded: each `mixbuild` command of this install then runs in a fork of this
    process, about 1 s sooner (Linux; Ctrl-C stops; MIXBUILD_NO_SERVER=1 bypasses it)."""
    from ..serve import ServeError, serve as run_server

    signal.signal(signal.SIGHUP, signal.getsignal(signal.SIGTERM))  # its terminal closed: stop as on SIGTERM

    def log(line: str) -> None:
        typer.echo(f"[{time.strftime('%H:%M:%S')}] {line}", err=True)

    try:
        why = run_server(idle_minutes * 60.0, log)
    except ServeError as err:
        fail(f"serve: {err}", 1)
    log(f"stopped: {why}")
