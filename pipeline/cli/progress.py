"""Build progress: nodes done / total, the nodes running now and an ETA.

On a terminal a live bar (rich, imported only then); otherwise one line per rendered node on stderr, so a CI
log or a `tee` shows the build moving. Cached nodes count toward done but print no line of their own unless
verbose; quiet prints nothing.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..executor import NodeResult

MAX_RUNNING_SHOWN = 3


class BuildProgress:
    """Callbacks for api.build (`on_plan`, `on_start`, `on_done`) that keep the counts and show them."""

    def __init__(self, live: bool, quiet: bool = False, verbose: bool = False):
        self.quiet, self.verbose = quiet, verbose
        live = live and not quiet
        self.total = 0
        self.done = 0
        self.running: list[str] = []
        self.started = time.perf_counter()
        self._bar: Any = None
        self._task: Any = None
        if live:  # rich costs 35 ms to import: only for a terminal
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("eta"), TimeRemainingColumn(), transient=True)
            self._task = self._bar.add_task("resolving", total=None)

    def __enter__(self) -> BuildProgress:
        if self._bar is not None:
            self._bar.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.__exit__(kind, err, tb)

    def on_plan(self, total: int) -> None:
        self.total = total
        if self._bar is not None:
            self._bar.update(self._task, total=total)

    def on_start(self, node_id: str) -> None:
        self.running.append(node_id)
        self._show()

    def on_done(self, result: NodeResult) -> None:
        self.done += 1
        if result.id in self.running:
            self.running.remove(result.id)
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=self.running_text())
        elif result.status == "rendered" and not self.quiet:
            print(f"[{self.done}/{self.total}] {result.id} rendered in {result.seconds:.2f} s; "
                  f"running: {self.running_text()}; eta {self.eta_text()}", file=sys.stderr, flush=True)
        elif self.verbose:
            print(f"[{self.done}/{self.total}] {result.id} cached", file=sys.stderr, flush=True)

    def running_text(self) -> str:
        """The first nodes running now, and how many more."""
        shown = ", ".join(self.running[:MAX_RUNNING_SHOWN]) or "-"
        more = len(self.running) - MAX_RUNNING_SHOWN
        return shown + (f" (+{more})" if more > 0 else "")

    def eta_text(self) -> str:
        """Seconds left at the pace so far (nodes done per second), or '?' before the first node."""
        if not self.done or not self.total:
            return "?"
        elapsed_s = time.perf_counter() - self.started
        return f"{elapsed_s / self.done * (self.total - self.done):.0f} s"

    def _show(self) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=self.running_text())
