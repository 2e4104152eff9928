"""mixbuild: records built like software. `mixbuild.load(path)`, `mixbuild.set_value(album, "songs.x.y", v)`,
`mixbuild.build(album_or_path)` and the rest of `mixbuild.pipeline.api` are reachable from here.

The engine is `mixbuild.pipeline` (specs, DAG, key, cache, executor, CLI) and the stage kinds `mixbuild.stages`.
The API is imported on first use (PEP 562), so `import mixbuild` and `mixbuild --help` stay free of numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mixbuild.pipeline.api import (DeliveryError, Report, SchedulerError, build, explain_node, graph, load,
                                       plan, set_value, validate_album)

__all__ = ["DeliveryError", "Report", "SchedulerError", "build", "explain_node", "graph", "load", "plan", "set_value",
           "validate_album"]


def __getattr__(name: str) -> Any:
    """The API's names, imported from mixbuild.pipeline.api when first asked for."""
    if name in __all__:
        return getattr(importlib.import_module("mixbuild.pipeline.api"), name)
    raise AttributeError(f"module 'mixbuild' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
