"""No OpenBLAS thread pool in the build process or in the workers it starts.

numpy and scipy (their PyPI wheels) each load an OpenBLAS that starts a thread per core as it loads, and each
thread spins a while waiting for work (blas_thread_server: 2.7 % of a one-stem tweak's CPU samples here, on 2
cores). No kernel calls BLAS, so those threads only take cycles from the ones that render: a one-stem tweak of
the 4 x 16 x 240 s album, user time 5.65 -> 5.35 s (medians of 4 alternating). Set before numpy loads: the
CLI's first step.
"""

from __future__ import annotations

import os

BLAS_THREADS = 1
"""Threads of each OpenBLAS pool: the caller's own, no pool."""
BLAS_ENV = {"OPENBLAS_NUM_THREADS": str(BLAS_THREADS)}
"""The variable that says so, as set where the user has not."""


def single_threaded_blas() -> None:
    """OpenBLAS in this process (if numpy is not loaded yet) and in every process it starts uses the calling
    thread only; a setting the user gave in the environment is kept."""
    for variable, value in BLAS_ENV.items():
        os.environ.setdefault(variable, value)
