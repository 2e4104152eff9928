"""The cache's size limit, enforced after every build (issue 14 item 6: a cache that fits a laptop).

``MIXBUILD_CACHE_MAX_GB`` sets it in decimal gigabytes (1 GB = 10**9 bytes, as ``cache prune
--max-size-gb``): ``20``, ``2.5``; ``0`` keeps only what the last build used; ``off`` (or ``none``,
``unlimited``, or any negative number) disables it. Unset or empty: DEFAULT_MAX_GB. Anything else is
a CacheLimitError whose one-line message names the variable, what is allowed and what it got.

The default, 25 GB, is sized from the demo album: one full build of its three songs (81 s of music,
seven stems a song) stores 508 MB of objects, about 6.3 MB per second of album; a 45-minute album of
the same density is then about 17 GB, so the 20 GB a full cache is evicted to (EVICT_TO_FRACTION) keeps
one whole album's working set (every stem, bus, master and export) plus the variants of a session's latest
tweaks, and 25 GB is still a few percent of a laptop's 512 GB disk. A session with many more stems a song
outgrows it; raise the variable (the limit never evicts what the build holds, so a too-small limit costs
re-renders, never a wrong or failed build).

How the limit is enforced (``enforce``, called by ``pipeline.api.build`` after delivery): a cache over
the limit is evicted to EVICT_TO_FRACTION of it, least recently used first. The
build holds a lease from before it checks its first action until this prune ends, so every object it
used -- touched on a hit, written or touched by a render -- has an mtime after the lease started,
which prune already protects (as it protects every other running build's objects). On top of that,
the caller passes the digests its report references (``keep``): protection of the build's own outputs
then does not depend on clocks agreeing (an object written by a dask worker on another host whose
clock lags by more than the lease slack). Blobs are kept with the kept JSON objects that reference
them. What the build holds can exceed that target: prune's report then says "over_budget" (the cache may
stay over the limit itself) until a later build holds less. A cache at or under the limit costs one
``stat`` per object and no prune (``layout.object_bytes``: 50-170 ms for 10,000 objects on a busy shared
2-core machine, a third of a full scan's time).
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Mapping
from typing import Any

from .layout import Layout, object_bytes
from .pruning import prune

LIMIT_ENV_VAR = "MIXBUILD_CACHE_MAX_GB"
DEFAULT_MAX_GB = 25.0
"""The limit when MIXBUILD_CACHE_MAX_GB is unset: evicted to 20 GB, one 45-minute album's working set and its
latest tweaks (above)."""
OFF_WORDS = ("off", "none", "unlimited")
"""Values of MIXBUILD_CACHE_MAX_GB (any case) that disable the limit, as a negative number does."""


ALLOWED = ("a size in GB (e.g. 20 or 2.5; 0 keeps only what the last build used), "
           "or off or a negative number for no limit")


class CacheLimitError(ValueError):
    """MIXBUILD_CACHE_MAX_GB is not a size; the message is one line naming it and what is allowed."""

    def __init__(self, got: str) -> None:
        self.detail = f"{ALLOWED} (got {got!r})"
        """What is allowed and what was given, without the variable's name (a spec-style problem's message)."""
        super().__init__(f"{LIMIT_ENV_VAR}: {self.detail}")


def max_bytes(environ: Mapping[str, str] | None = None) -> int | None:
    """The configured limit in bytes (None: no limit), from ``environ`` (default ``os.environ``)."""
    raw = (os.environ if environ is None else environ).get(LIMIT_ENV_VAR, "").strip()
    if not raw:
        return int(DEFAULT_MAX_GB * 1e9)
    if raw.lower() in OFF_WORDS:
        return None
    try:
        gigabytes = float(raw)
    except ValueError:
        gigabytes = math.nan
    if not math.isfinite(gigabytes):
        raise CacheLimitError(raw)
    return None if gigabytes < 0 else int(gigabytes * 1e9)


EVICT_TO_FRACTION = 0.8
"""A cache over its limit is evicted down to this fraction of it (ccache's limit_multiple), so that the next
builds find room and skip the eviction's scan of every action and JSON object: evicting only to the limit, a
full cache paid it after every build (0.71 s of a one-stem tweak on bench_scale's 240-s album, 2,071 actions)."""


def evict_target(limit_bytes: int) -> int:
    """The bytes a cache over ``limit_bytes`` is evicted down to."""
    return int(limit_bytes * EVICT_TO_FRACTION)


def enforce(layout: Layout, limit_bytes: int | None, keep: Collection[str] = ()) -> dict[str, Any] | None:
    """Once the cache exceeds ``limit_bytes``, evict least-recently-used objects until it fits EVICT_TO_FRACTION
    of it; prune's report, or None when nothing had to go (no limit, or the objects fit). Call it while
    holding a lease taken before the build started; ``keep``: digests the build references, never evicted
    (see the module)."""
    if limit_bytes is None or object_bytes(layout) <= limit_bytes:
        return None
    return prune(layout, max_size_bytes=evict_target(limit_bytes), keep=frozenset(keep))
