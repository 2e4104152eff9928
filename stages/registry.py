"""The stage registry: a stage kind is one file whose kernel is declared with `@stage(name, version)`.

A kernel is a pure function `render(inputs: XInputs, p: XParams) -> array | dict`. Its typed signature is
the declaration: `XParams` (a SpecModel) says which parameters the kind takes, `XInputs` (a frozen dataclass)
names its inputs: a field per input, typed `np.ndarray` (an upstream node's audio), `Path` (a source file),
`dict` (an upstream decision or manifest), a `list[...]` of one of those, or `... | None` when optional.
It returns audio `(frames, channels)` or a small JSON-able dict in which `Blob` values stand for files.
A large file (an album) is written into `scratch_file()` and returned as `Blob(path, suffix)`, and audio
may be written block by block through `AudioWriter` and returned as its `AudioFile`: the worker moves either
into the cache, so no kernel needs a whole album's bytes, or a whole song's samples, in memory.

Stage modules import their DSP (numba, scipy.fft: ~0.7 s) inside `render`, so that compiling, planning
and a no-op build never pay for it; the code-version digest follows those imports all the same.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import tempfile
import importlib
import inspect
import pkgutil
import typing
from dataclasses import dataclass, field, replace
from pathlib import Path
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, TypeVar

import numpy as np

from .params import SpecModel


@dataclass(frozen=True)
class Blob:
    """An encoded file produced by a kernel (a WAV, a CUE sheet): stored by digest, delivered by name.

    `data` is the file's bytes, or the path of a file: a `scratch_file()` the kernel wrote (moved into the
    cache), or a file it passes on unchanged (a stored track, copied only if the cache lacks it)."""

    data: bytes | Path
    suffix: str


@dataclass(frozen=True)
class SplicedFile:
    """A delivery file kept as what it is made of rather than as its bytes: `head`, the pieces `parts`
    ((file, offset, bytes): a range of a file the kernel passes on, a stored track; zeros where file is
    None), then `tail`. An album file spliced from its tracks so takes no cache space of its own, and is
    written once, where it is delivered (which checks it against the digest the engine took of `blocks`)."""

    head: bytes
    parts: list[tuple[Path | None, int, int]]
    tail: bytes
    suffix: str
    digest: str | None = field(default=None, compare=False)
    """The engine's digest of the file's bytes where known (`measured`'s pass took it, or the cache stored the
    file under it), so that storing the file reads no piece again."""

    def blocks(self) -> Iterator[bytes | memoryview]:
        """The file's bytes, in order, block by block."""
        from .wav import read_parts

        yield self.head
        yield from read_parts(self.parts)
        yield self.tail

    def measured(self) -> tuple[SplicedFile, str]:
        """This file with its engine digest (FILE_HASHER's, inside a render), and the sha256 hex digest of its
        bytes (what its manifest gives): both from one read of the pieces, block by block."""
        import hashlib

        sha256 = hashlib.sha256()
        make_hasher = FILE_HASHER.get()
        engine = make_hasher() if make_hasher is not None else None
        for block in self.blocks():
            sha256.update(block)
            if engine is not None:
                engine.update(block)
        return replace(self, digest=None if engine is None else engine.hexdigest()), sha256.hexdigest()


def _temp_scratch_file(suffix: str) -> Path:
    handle, name = tempfile.mkstemp(prefix=f"mixbuild-{os.getpid()}-", suffix=suffix)  # the pid: swept once dead
    os.close(handle)
    return Path(name)


SCRATCH_FILES: ContextVar[Callable[[str], Path]] = ContextVar("SCRATCH_FILES", default=_temp_scratch_file)
"""Makes the empty files `scratch_file` hands out; the worker points it into the cache while it renders."""


FILE_HASHER: ContextVar[Callable[[], Any] | None] = ContextVar("FILE_HASHER", default=None)
"""Makes the engine's running hash of a file's bytes (`update`, `hexdigest`); the worker sets it while it renders,
so a kernel reading a spliced file for its sha256 takes the engine's digest in the same pass."""


ARRAY_HASHER: ContextVar[Callable[[np.dtype[Any], tuple[int, ...]], Any] | None] = ContextVar("ARRAY_HASHER",
                                                                                          default=None)
"""The engine's running hash of an array's digest, given its dtype and shape (its `update` takes the C-order
bytes, `hexdigest` gives the digest); the worker sets it while it renders, so a writer hashes what it writes."""


def scratch_file(suffix: str) -> Path:
    """A new empty file to write a large output into and return as `Blob(path, suffix)`. Rendering in a
    worker it lies in the cache (moving it in costs no copy) and is removed if the kernel fails."""
    return SCRATCH_FILES.get()(suffix)


def _note_outside_a_build(text: str) -> None:
    import warnings

    warnings.warn(text, RenderNote, stacklevel=3)


class RenderNote(UserWarning):
    """A remark a kernel called outside a build makes (in a build, the worker collects it instead)."""


NOTES: ContextVar[Callable[[str], None]] = ContextVar("NOTES", default=_note_outside_a_build)
"""Where `note` puts a remark; the worker collects them into the node's action record while it renders."""


def note(text: str) -> None:
    """A remark the user should read about what was rendered (a DC offset in a stem): shown after the build
    and kept in the node's action record, so that a cached hit says it again."""
    NOTES.get()(text)


class NonFiniteAudio(ValueError):
    """A kernel's audio holds NaN or Inf (the worker names the node)."""


@dataclass(frozen=True)
class AudioFile:
    """A kernel's (frames, channels) float32 audio, written to a scratch .npy by an AudioWriter."""

    path: Path
    frames: int
    channels: int
    digest: str | None
    """The engine's digest of the audio, hashed as it was written (ARRAY_HASHER; None outside a render)."""


WRITE_BUFFER_BYTES = 1 << 22
"""An AudioWriter passes 4 MiB at a time to the file: in small appends, ext4 allocates blocks around the
holes that one large write leaves free (7.3 vs 5.8 MB on disk for 30 s with 15 s of silence)."""


class AudioWriter:
    """A kernel's audio output, written front to back in blocks as float32 into a scratch .npy (the bytes
    np.save would write, silence as holes): a kernel that streams never holds its whole output."""

    def __init__(self, frames: int, channels: int) -> None:
        from .npyfile import SparseWriter, npy_header

        self.frames, self.channels, self.written = frames, channels, 0
        self._pending: list[np.ndarray] = []
        self._pending_bytes = 0
        hasher = ARRAY_HASHER.get()
        self._hasher = None if hasher is None else hasher(np.dtype(np.float32), (frames, channels))
        self.path = scratch_file(".npy")
        self._fh = self.path.open("r+b")
        self._sink = SparseWriter(self._fh)
        with self._naming_errors():
            self._sink.write(npy_header((frames, channels), np.dtype(np.float32)))

    @contextmanager
    def _naming_errors(self) -> Iterator[None]:
        """An OSError of a write (a full disk: ENOSPC carries no file name) names the file written."""
        try:
            yield
        except OSError as err:
            if err.filename is not None:
                raise
            raise OSError(err.errno, err.strerror or str(err), str(self.path)) from err

    def write(self, block: Any) -> None:
        """Append (n, channels) frames, cast to float32 as every stored audio output is."""
        samples = np.ascontiguousarray(block, dtype=np.float32)
        if samples.ndim != 2 or samples.shape[1] != self.channels or self.written + samples.shape[0] > self.frames:
            raise ValueError(f"AudioWriter: block of shape {samples.shape} does not fit ({self.frames}, "
                             f"{self.channels}) after {self.written} frames")
        if not np.isfinite(samples).all():
            raise NonFiniteAudio("kernel produced NaN or Inf samples")
        self._pending.append(samples)
        self._pending_bytes += samples.nbytes
        if self._pending_bytes >= WRITE_BUFFER_BYTES:
            self._flush()
        self.written += samples.shape[0]

    def _flush(self) -> None:
        data = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        if self._hasher is not None:
            self._hasher.update(data.reshape(-1).view(np.uint8).data)
        with self._naming_errors():
            self._sink.write(data)
        self._pending, self._pending_bytes = [], 0

    def finish(self) -> AudioFile:
        """Close the file once every frame is written; the kernel returns what this gives."""
        if self.written != self.frames:
            raise ValueError(f"AudioWriter: {self.written} of {self.frames} frames written")
        if self._pending:
            self._flush()
        with self._naming_errors():
            self._sink.close()
            self._fh.close()
        return AudioFile(self.path, self.frames, self.channels,
                         None if self._hasher is None else self._hasher.hexdigest())


class RenderError(Exception):
    """A kernel cannot render its input (not finite, undecodable): a clear message, no traceback."""


@dataclass(frozen=True)
class StageKind:
    """A registered kind: its name, declared version, params model, named inputs and kernel."""

    name: str
    version: str
    params: type[SpecModel]
    inputs: type
    render: Callable[[Any, Any], Any]
    module: str
    output: str
    """What the kernel returns, as the cache stores it: "array" (audio) or "json" (a dict)."""

    def input_names(self) -> tuple[str, ...]:
        """The kind's input names, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(self.inputs))

    def required_inputs(self) -> tuple[str, ...]:
        """Inputs a node of this kind must wire (the others default to None: optional)."""
        return tuple(f.name for f in dataclasses.fields(self.inputs)
                     if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)


KINDS: dict[str, StageKind] = {}

Kernel = TypeVar("Kernel", bound=Callable[..., Any])


def stage(name: str, version: str) -> Callable[[Kernel], Kernel]:
    """Register a kernel as stage kind `name`; bump `version` when its output meaning changes.

    The params model and the inputs dataclass are read from the kernel's annotations: declared once."""

    def register(render: Kernel) -> Kernel:
        hints = typing.get_type_hints(render)
        first, second = list(inspect.signature(render).parameters)[:2]
        inputs, params = hints.get(first), hints.get(second)
        if not (isinstance(inputs, type) and dataclasses.is_dataclass(inputs)
                and isinstance(params, type) and issubclass(params, SpecModel)):
            raise TypeError(f"stage {name}: render(inputs: <dataclass>, p: <SpecModel>) (got {inputs}, {params})")
        returned = hints.get("return")
        output = "array" if returned in (AudioFile, np.ndarray) else "json" if typing.get_origin(returned) is dict \
            or returned is dict else None
        if output is None:
            raise TypeError(f"stage {name}: render must return AudioFile, np.ndarray or dict (got {returned})")
        KINDS[name] = StageKind(name, version, params, inputs, render, render.__module__, output)
        return render

    return register


def load_kinds() -> dict[str, StageKind]:
    """Import every module of the `stages` package (those with `@stage` register a kind); the registry.

    A new kind is one new file: nothing lists the modules. Their imports are light (DSP loads in `render`)."""
    _import_stage_modules()
    return KINDS


@functools.cache
def _import_stage_modules() -> None:
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if not module.ispkg:
            importlib.import_module(f"{__package__}.{module.name}")
