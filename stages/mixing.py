"""Channel-strip helpers shared by stem and bus kernels: EQ chains and input summing."""

from __future__ import annotations

import mmap

from typing import Literal

import numpy as np

from .params import Compressor, EqBand, SpecModel


class MixInput(SpecModel):
    """One input of a sum: which half of a stem's output to take (post/pre fader) and its level."""

    tap: Literal["post", "pre"] = "post"
    level_db: float = 0.0
    """The send's level (a Send, bounded there), or 0 for a channel's own output."""


def eq_chain(audio: np.ndarray, bands: list[EqBand], sample_rate_hz: int) -> np.ndarray:
    """Run EQ bands in order as one cascade of second-order sections (float64)."""
    if not bands:
        return audio
    from .dsp.eq import apply_sos, band_sos

    sos = np.concatenate([
        band_sos(b.type, b.freq_hz, sample_rate_hz, gain_db=getattr(b, "gain_db", 0.0), q=b.q,
                 slope_db_per_oct=getattr(b, "slope_db_per_oct", 12))
        for b in bands
    ])
    return apply_sos(audio, sos)


def compressor(audio: np.ndarray, settings: Compressor | None, sample_rate_hz: int) -> np.ndarray:
    """Apply a compressor spec, or pass through when there is none."""
    if settings is None:
        return audio
    from .dsp.compressor import compress

    return compress(audio, sample_rate_hz, threshold_db=settings.threshold_db, ratio=settings.ratio,
                    knee_db=settings.knee_db, attack_ms=settings.attack_ms, release_ms=settings.release_ms,
                    makeup_db=settings.makeup_db, sidechain_highpass_hz=settings.sidechain_highpass_hz)


def sum_inputs(arrays: list[np.ndarray], inputs: list[MixInput], frames: int) -> np.ndarray:
    """Sum stereo inputs in their given (fixed) order, each at its level; float64 accumulator."""
    out = np.zeros((frames, 2))
    for audio, spec in zip(arrays, inputs):
        half = audio[:, 0:2] if spec.tap == "post" else audio[:, 2:4]
        n = min(frames, half.shape[0])
        out[:n] += half[:n] * (10.0 ** (spec.level_db / 20.0))
        release_pages(audio)
    return out


def release_pages(audio: np.ndarray) -> None:
    """Drop a memory-mapped input's resident pages once it is used: memory stays flat in stem count."""
    mapped = getattr(audio, "_mmap", None)
    if mapped is not None and hasattr(mapped, "madvise"):
        mapped.madvise(mmap.MADV_DONTNEED)
