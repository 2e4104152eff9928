"""The stage registry: each stage kind is declared once, with its version, params model and kernel.

The engine finds kinds here; a kernel is a pure function `render(inputs, params, ctx)` returning
an audio array `(frames, channels)`, or a small JSON-able dict (decisions, manifests) in which
`Blob` values stand for files the engine stores as cache objects.

Stage modules import their DSP (numba, scipy.fft: ~0.7 s) inside `render`, so that compiling, planning
and a no-op build never pay for it; the code-version digest follows those imports all the same.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from .params import SpecModel

STAGE_MODULES = ("stages.stem", "stages.bus", "stages.album_tonal", "stages.master",
                 "stages.album_loudness", "stages.pick", "stages.final", "stages.export",
                 "stages.album_export")


@dataclass(frozen=True)
class Blob:
    """An encoded file produced by a kernel (a WAV, a CUE sheet): stored by digest, delivered by name."""

    data: bytes
    suffix: str


@dataclass(frozen=True)
class Context:
    """What a kernel may know beyond its inputs: its node id and key (seeds come from params, so a change
    that does not touch the audio, such as a tag, cannot change the noise a kernel adds)."""

    node_id: str
    key: str


class RenderError(Exception):
    """A kernel cannot render its input (not finite, undecodable): a clear message, no traceback."""


@dataclass(frozen=True)
class StageKind:
    name: str
    version: str
    params: type[SpecModel]
    render: Callable[[list[Any], Any, Context], Any]
    module: str


KINDS: dict[str, StageKind] = {}


def stage(name: str, version: str, params: type[SpecModel]):
    """Register a kernel as stage kind `name`; bump `version` when its output meaning changes."""

    def register(render):
        KINDS[name] = StageKind(name, version, params, render, render.__module__)
        return render

    return register


def load_kinds() -> dict[str, StageKind]:
    """Import every stage module (registering its kind) and return the registry."""
    for module in STAGE_MODULES:
        importlib.import_module(module)
    return KINDS
