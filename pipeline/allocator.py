"""glibc's allocator set for audio blocks, in the build process and the workers it starts.

A kernel's numpy temporaries are block-sized (0.5-4 MB). Above glibc's mmap threshold each one is mapped
and unmapped again, and its pages fault in zeroed every time: a 60-s album's cold build took 429-468 k
minor page faults, 87-88 k with the settings below (system time 5.3 -> 3.5 s; peak RSS 263 -> 275 MB).
Allocations under MMAP_THRESHOLD_BYTES come from the heap instead, and up to TRIM_THRESHOLD_BYTES of freed
heap stays mapped for the next block. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import os
import sys

MMAP_THRESHOLD_BYTES = 32 << 20
"""glibc's largest mmap threshold: a block's temporaries stay on the heap."""
TRIM_THRESHOLD_BYTES = 256 << 20
"""Freed heap at the top kept for reuse, not returned to the system at once."""
TOP_PAD_BYTES = 64 << 20
"""Extra heap taken with each growth, so that a block's allocations do not each grow it."""

_SETTINGS = {-3: ("MALLOC_MMAP_THRESHOLD_", MMAP_THRESHOLD_BYTES),  # mallopt's M_MMAP_THRESHOLD
             -1: ("MALLOC_TRIM_THRESHOLD_", TRIM_THRESHOLD_BYTES),  # M_TRIM_THRESHOLD
             -2: ("MALLOC_TOP_PAD_", TOP_PAD_BYTES)}  # M_TOP_PAD
ALLOCATOR_ENV = {variable: str(value) for variable, value in _SETTINGS.values()}
"""The variables glibc reads at start for the settings above, as set where the user has not."""


def tune_allocator() -> None:
    """Set this process's glibc allocator (mallopt) and, through the environment glibc reads at start, that
    of every process it starts (loky's workers); a setting the user gave in the environment is kept."""
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    for option, (variable, value) in _SETTINGS.items():
        given = os.environ.setdefault(variable, str(value))
        if given.isdigit():  # glibc ignores what is not a number, and so do we
            mallopt(option, int(given))
