"""The build process's own set-up, done before numpy loads: glibc's allocator for audio blocks
(`allocator.py`) and no OpenBLAS thread pools (`blas.py`), for it and for the workers it starts."""

from __future__ import annotations

from .allocator import ALLOCATOR_ENV, tune_allocator
from .blas import BLAS_ENV, single_threaded_blas


def tune_process() -> None:
    """Set this process, and the workers it starts, up for rendering. The CLI's first step; a long-lived process
    that builds through the API (bench_scale's stand-in for `watch`) takes it too."""
    tune_allocator()
    single_threaded_blas()


def tuned_defaults() -> dict[str, str]:
    """The environment `tune_process` sets where the user has not (a `mixbuild serve` key compares with it)."""
    return {**ALLOCATOR_ENV, **BLAS_ENV}
