"""Pay the kernels' one-time costs ahead of need: numba's compile on first use after install (~25 s on 2 cores,
kept in numba's on-disk cache), and each process's start-up (imports, loading the compiled code: ~0.6 s).

`mixbuild warm` compiles ahead; a build that finds the compiled code missing or made for other source says so
and compiles here, once, before its workers start (each would compile on its own); `mixbuild watch` warms up
while it waits for the first save, so the first tweak renders as fast as the later ones. Output is
discarded; nothing enters mixbuild's cache. Once the kernels are known compiled, a mark beside them (named by a
digest of their sources, Python, numba and NUMBA_CACHE_DIR) lets later builds skip the check, which would import
numba (~1 s) in a build process that otherwise never does.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pkgutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from mixbuild.stages import dsp


def _dsp_modules() -> list[Any]:
    return [importlib.import_module(f"mixbuild.stages.dsp.{m.name}") for m in pkgutil.iter_modules(dsp.__path__)]


MARK_PREFIX = "mixbuild-kernels-"


def _mark() -> Path:
    """The mark saying the kernels of these sources were compiled for this Python, numba and cache dir."""
    folder = Path(dsp.__file__).parent
    digest = hashlib.sha256()
    for source in sorted(folder.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    digest.update(f"{sys.version}\0{metadata.version('numba')}\0{os.environ.get('NUMBA_CACHE_DIR', '')}".encode())
    return folder / "__pycache__" / f"{MARK_PREFIX}{digest.hexdigest()[:16]}"


def kernels_marked() -> bool:
    """Whether a build already found these kernels compiled (a few file reads; numba is not imported)."""
    return _mark().is_file()


def mark_kernels() -> None:
    """Leave the mark (and drop marks of other sources); nothing where the folder is not writable."""
    mark = _mark()
    try:
        mark.parent.mkdir(exist_ok=True)
        for old in mark.parent.glob(f"{MARK_PREFIX}*"):
            old.unlink(missing_ok=True)
        mark.touch()
    except OSError:
        pass


def kernels_cold() -> bool:
    """Whether numba's on-disk cache lacks a kernel, or holds it for other source (numba compiles it on first
    use): its own index check, which reads a few hundred bytes per kernel. False where this numba's cache
    is laid out otherwise (then nothing is said and numba compiles as it always would)."""
    from numba.core.registry import CPUDispatcher

    for module in _dsp_modules():
        for kernel in vars(module).values():
            if not isinstance(kernel, CPUDispatcher) or kernel.__module__ != module.__name__:
                continue
            try:
                compiled = getattr(kernel, "_cache")._cache_file._load_index()  # {} when missing or stale
            except (AttributeError, OSError, EOFError, ValueError):
                return False
            if not compiled:
                return True
    return False


def load_code_generator() -> None:
    """Run the smallest compiled kernel once: a process's first kernel pays numba's fixed start (its code
    generator and the modules that imports: ~0.3 s here), each later one only its own load."""
    from mixbuild.stages.dsp.iir import sosfilt

    sosfilt(np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]]), np.zeros((8, 2), dtype=np.float32))


def warm_up(sample_rate_hz: int = 48000) -> None:
    """Import every DSP module and run the compiled and FFT kernels once on 0.1 s of quiet noise."""
    _dsp_modules()
    from mixbuild.stages.dsp.accumulate import add_placed_mono, add_scaled_stereo
    from mixbuild.stages.dsp.compressor import compress
    from mixbuild.stages.dsp.convolve import fft_convolve
    from mixbuild.stages.dsp.dither import Quantizer
    from mixbuild.stages.dsp.limiter import true_peak_limit
    from mixbuild.stages.dsp.loudness import measure

    noise = np.random.default_rng(0).standard_normal((sample_rate_hz // 10, 2)) * 0.01
    # each kernel's float64 and float32 variants, and the read-only ones (a cached input is a read-only map)
    variants: list[np.ndarray] = [noise, noise.astype(np.float32), _read_only(noise.copy()),
                                  _read_only(noise.astype(np.float32))]
    for audio in variants:
        compress(audio, sample_rate_hz, threshold_db=-60.0, ratio=2.0, sidechain_highpass_hz=100.0)
        compress(audio, sample_rate_hz, threshold_db=-60.0, ratio=2.0)  # the detector reads the audio itself
        Quantizer(16, "tpdf", 0).codes(audio)
        measure(audio, sample_rate_hz)
    for audio in variants[:2]:
        true_peak_limit(audio * 200.0, sample_rate_hz, ceiling_dbtp=-1.0)
        work = audio * audio.dtype.type(200.0)  # the final's form: its own work copy, limited in place
        true_peak_limit(work, sample_rate_hz, ceiling_dbtp=-1.0, in_place=True,
                        envelope=np.empty(work.shape[0], dtype=work.dtype))
    fft_convolve(noise, noise[:480], downmix=True)  # a reverb's partitioned convolution
    true_peak_limit(noise[:4800] * 200.0, 192000, ceiling_dbtp=-1.0)  # >= 176.4 kHz: no oversampling
    into = np.zeros_like(noise)
    for source in variants:  # a sum's sources: whole, one signal of two, and a mono stem
        add_scaled_stereo(into, source, source.dtype.type(0.5))
        add_placed_mono(into, source[:, :1], 0.5, 0.5)
        add_placed_mono(into, source[:, 1:], 0.5, 0.5)
        mono = np.ascontiguousarray(source[:, :1])
        add_placed_mono(into, mono if source.flags.writeable else _read_only(mono), 0.5, 0.5)


def _read_only(audio: np.ndarray) -> np.ndarray:
    """`audio` as numba types a cached input (a read-only map): another compiled variant."""
    audio.setflags(write=False)
    return audio
