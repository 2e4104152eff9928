"""A node's stream on two threads: the next block is computed while the caller works on this one.

A tweak re-renders a chain of nodes one after another (a stem, its buses, the mixdown, the master), so one
node runs at a time and, at -j 2, a core idles. A node whose loop has two halves (the sums and filters that
make a block, then the compressor, effects and writes that take it) overlaps them: `computed_ahead` makes
block k+1 on a helper thread while the kernel consumes block k. Each half's state (a filter's, a
compressor's, the writer's) stays on one thread and sees the same blocks in the same order, so the output is
the same, bit for bit; the compiled kernels, numpy and the file writes release the GIL, so the halves run
side by side. At most one block waits ahead: memory grows by a block.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Block = TypeVar("Block")

_END = object()


def computed_ahead(blocks: Iterable[Block]) -> Iterator[Block]:
    """`blocks`, in order, each computed on a helper thread while the caller works on the one before.

    The helper runs in a copy of the caller's context (a render's scratch files, hasher and notes). An
    error computing a block is raised where that block is asked for. Leaving early (an error, a break)
    waits for the block being computed and closes `blocks` here, so nothing runs on after the kernel."""
    source = iter(blocks)
    context = contextvars.copy_context()

    def advance() -> object:
        return context.run(next, source, _END)

    with ThreadPoolExecutor(1, thread_name_prefix="mixbuild-ahead") as helper:
        pending: Future[object] = helper.submit(advance)
        try:
            while (block := pending.result()) is not _END:
                pending = helper.submit(advance)
                yield block  # type: ignore[misc]
        finally:
            if not pending.cancel():
                pending.exception()  # wait for the block being computed: the helper is idle before the close
            close = getattr(source, "close", None)
            if close is not None:
                close()
