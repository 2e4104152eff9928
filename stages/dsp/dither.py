"""Word-length reduction with TPDF dither (for 16-bit delivery, e.g. CD at 44.1 kHz / 16 bit).

Values are returned as float64 on the integer grid k / 2**(bit_depth-1), so the
encoder writes them exactly. Randomness comes from numpy's default_rng(seed); the export
stage passes its params' `dither_seed`, which the engine derives from the export node's id:
same node, same bytes.
"""

from __future__ import annotations

import numpy as np

from stages.dsp.checks import check_audio, check_number

DITHER_KINDS = ("tpdf", "none")
MIN_BIT_DEPTH = 2
MAX_BIT_DEPTH = 32


def quantize(audio: np.ndarray, bit_depth: int, dither: str = "tpdf", seed: int = 0) -> np.ndarray:
    """Quantise to bit_depth bits: float64 values k / 2**(bit_depth-1), clipped to [-1, 1 - 1 LSB].

    "tpdf" adds the sum of two independent uniform +-0.5 LSB variables before rounding (total error
    RMS = LSB/2, independent of the signal); "none" rounds to nearest. Deterministic for a seed.
    """
    check_audio(audio)
    depth = check_number(bit_depth, "bit_depth", ge=MIN_BIT_DEPTH, le=MAX_BIT_DEPTH, integer=True)
    if dither not in DITHER_KINDS:
        raise ValueError(f"dither: must be one of {', '.join(DITHER_KINDS)} (got {dither!r})")
    seed = check_number(seed, "seed", ge=0, integer=True)
    scale = float(2 ** (depth - 1))
    scaled = np.multiply(audio, scale, dtype=np.float64)
    if dither == "tpdf":
        rng = np.random.default_rng(seed)
        scaled += rng.uniform(-0.5, 0.5, size=scaled.shape)
        scaled += rng.uniform(-0.5, 0.5, size=scaled.shape)
    np.rint(scaled, out=scaled)
    np.clip(scaled, -scale, scale - 1.0, out=scaled)
    scaled /= scale
    return scaled
