"""The build process's own set-up, done before numpy loads: glibc's allocator for audio blocks
(`allocator.py`) and no OpenBLAS thread pools (`blas.py`), for it and for the workers it starts."""

from __future__ import annotations

from .allocator import tune_allocator
from .blas import single_threaded_blas


def tune_process() -> None:
    """Set this process, and the workers it starts, up for rendering. The CLI's first step; a long-lived process
    that builds through the API (bench_scale's stand-in for `watch`) takes it too."""
    tune_allocator()
    single_threaded_blas()
