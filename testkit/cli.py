"""The CLI run in-process (typer's CliRunner): fast, for checks that need no separate process."""

from __future__ import annotations

from typer.testing import CliRunner

from pipeline.cli import app


def invoke(*args):
    """Run `mixbuild ARGS`; assert it raised nothing but its own exit and printed no traceback."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    # an exception other than the CLI's own exit is what `main()` would print as "internal error"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return result
