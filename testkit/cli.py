"""The CLI run in-process (typer's CliRunner): fast, for checks that need no separate process."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from mixbuild.pipeline.cli import app


PROGRESS_LINE = re.compile(r"^\[\d+/\d+\] \S+ rendered in ")
"""A build's progress line on stderr without a terminal (`[12/53] NODE rendered in 0.41 s; ...`)."""


def message_lines(text: str) -> list[str]:
    """The non-blank lines of a command's output that are messages, not build progress."""
    return [line for line in text.splitlines() if line.strip() and not PROGRESS_LINE.match(line)]


def invoke(*args):
    """Run `mixbuild ARGS`; assert it raised nothing but its own exit and printed no traceback."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    # an exception other than the CLI's own exit is what `main()` would print as "internal error"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return result
