"""A node's stream on two threads where a core is idle: the next block is computed while the caller works on this one.

A tweak re-renders a chain of nodes one after another (a stem, its buses, the mixdown, the master), so one
node runs at a time and, at -j 2, a core idles. A node whose loop has two halves (the sums and filters that
make a block, then the compressor, effects and writes that take it) overlaps them: `computed_ahead` makes
block k+1 on a helper thread while the kernel consumes block k. Each half's state (a filter's, a
compressor's, the writer's) stays on one thread and sees the same blocks in the same order, so the output is
the same, bit for bit, whichever thread made each block; the compiled kernels, numpy and the file writes
release the GIL, so the halves run side by side. At most one block waits ahead: memory grows by a block.

A helper runs only on a core nobody else holds (`CORES`): the engine gives the build process its job count
and holds a core for each render task, on its threads or on a worker of its own. Where every core renders a
node (a cold build), a helper would only slow its neighbours (+4.6 % on a cold build, measured), so the
blocks are made in the caller's thread as before; a worker process has no budget and never starts one.
A caller waiting for its helper's block lends its core meanwhile, so the helper's own kernel may split its
work (`side_by_side`: a reverb's two channels) instead of leaving that core idle.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

Block = TypeVar("Block")
First = TypeVar("First")
Second = TypeVar("Second")

_END = object()


class CoreBudget:
    """The cores this process may keep busy, and how many render tasks and helpers hold one now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cores = 0  # none until the engine says: a worker process, a test, a notebook
        self._held = 0

    @contextmanager
    def cores(self, count: int) -> Iterator[None]:
        """This process may keep `count` cores busy while the block runs (a build's job count)."""
        with self._lock:
            before, self._cores = self._cores, count
        try:
            yield
        finally:
            with self._lock:
                self._cores = before

    @contextmanager
    def task(self) -> Iterator[None]:
        """A render task holds a core while it runs (even over the budget: tasks are the engine's to count)."""
        self._hold()
        try:
            yield
        finally:
            self.release()

    @contextmanager
    def lent(self) -> Iterator[None]:
        """The caller, a render task or helper holding a core, leaves it idle for the block (it waits): another
        thread may claim it; the caller holds it again afterwards, claimed meanwhile or not (briefly over the
        budget at worst)."""
        self.release()
        try:
            yield
        finally:
            self._hold()

    def _hold(self) -> None:
        with self._lock:
            self._held += 1

    def claim(self) -> bool:
        """Take an idle core for a helper, if there is one; `release` gives it back."""
        with self._lock:
            if self._held >= self._cores:
                return False
            self._held += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._held -= 1


CORES = CoreBudget()
"""This process's budget: set by the engine's pools (pipeline/pools.py), claimed and lent by `computed_ahead`
and `side_by_side`."""


def computed_ahead(blocks: Iterable[Block]) -> Iterator[Block]:
    """`blocks`, in order; while a core is idle, each is computed on a helper thread while the caller works
    on the one before, else in the caller's thread when asked for.

    The helper runs in a copy of the caller's context (a render's scratch files, hasher and notes). An
    error computing a block is raised where that block is asked for. Leaving early (an error, a break)
    waits for the block being computed and closes `blocks` here, so nothing runs on after the kernel."""
    source = iter(blocks)
    context = contextvars.copy_context()

    def advance() -> object:
        try:
            return context.run(next, source, _END)
        finally:
            CORES.release()

    with ThreadPoolExecutor(1, thread_name_prefix="mixbuild-ahead") as helper:

        def ahead() -> Future[object] | None:
            return helper.submit(advance) if CORES.claim() else None

        def waited(future: Future[object]) -> object:
            if not future.done():
                with CORES.lent():
                    future.exception()  # waits; the result (or its error) is taken below
            return future.result()

        pending = ahead()
        try:
            while (block := next(source, _END) if pending is None else waited(pending)) is not _END:
                pending = ahead()
                yield block  # type: ignore[misc]
            pending = None
        finally:
            if pending is not None:  # the helper must be idle before the source is closed
                if pending.cancel():
                    CORES.release()  # advance never ran
                else:
                    pending.exception()  # wait for the block being computed (its error goes with it)
            close = getattr(source, "close", None)
            if close is not None:
                close()


_SIDE = ThreadPoolExecutor(thread_name_prefix="mixbuild-side")
"""Threads for `side_by_side`: each call runs on one only after claiming an idle core, so the calls running at
once never outnumber the budget's idle cores (the pool may keep a few more threads idle)."""


def side_by_side(first: Callable[[], First], second: Callable[[], Second]) -> tuple[First, Second]:
    """(first(), second()) for two independent calls: `first` on a helper thread while the caller runs `second`
    where a core is idle, else one after the other here; each gives the same result either way (a stereo
    pair's channels, transformed one each). The helper runs in a copy of the caller's context; both are done
    when this returns, and an error in either is raised here."""
    if not CORES.claim():
        return first(), second()
    context = contextvars.copy_context()

    def helper() -> First:
        try:
            return context.run(first)
        finally:
            CORES.release()  # before the caller sees the result: the budget is whole again when this returns

    try:
        future = _SIDE.submit(helper)
    except BaseException:
        CORES.release()
        raise
    try:
        other = second()
    finally:
        future.exception()  # the helper is done (its error, if any, is raised next) before the caller goes on
    return future.result(), other
