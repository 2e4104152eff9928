"""Spec problems a user can act on: file, line, dotted field, what is allowed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One problem in a spec file, printed as `FILE:LINE: field.path: message`."""

    file: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else f"{self.file}"
        return f"{where}: {self.field or '(document)'}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": str(self.file), "line": self.line, "field": self.field, "message": self.message}


class SpecError(Exception):
    """The spec is invalid; carries every problem found (CLI exit code 2)."""

    exit_code = 2

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
