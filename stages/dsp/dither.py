"""Word-length reduction with TPDF dither (for 16-bit delivery, e.g. CD at 44.1 kHz / 16 bit).

Values are returned as float64 on the integer grid k / 2**(bit_depth-1), so the
encoder writes them exactly. Randomness comes from numpy's default_rng(seed); the export
stage passes its params' `dither_seed`, which the engine derives from the export node's id:
same node, same bytes.
"""

from __future__ import annotations

import numpy as np

from mixbuild.stages.dsp.checks import check_audio, check_number

DITHER_KINDS = ("tpdf", "none")
MIN_BIT_DEPTH = 2
MAX_BIT_DEPTH = 32


class Quantizer:
    """Quantise to bit_depth bits as a stream over consecutive blocks of one signal of `values` samples in
    all (frames x channels): float64 values k / 2**(bit_depth-1), clipped to [-1, 1 - 1 LSB].

    "tpdf" adds the sum of two independent uniform +-0.5 LSB variables before rounding (total error RMS =
    LSB/2, independent of the signal); "none" rounds to nearest. Deterministic for a seed. The two draws come
    from two generators, the second advanced past the first's `values` draws, so the blocks get the noise
    one block holding the whole signal gets: the stream's cut does not change a sample."""

    def __init__(self, bit_depth: int, dither: str, seed: int, values: int) -> None:
        depth = check_number(bit_depth, "bit_depth", ge=MIN_BIT_DEPTH, le=MAX_BIT_DEPTH, integer=True)
        if dither not in DITHER_KINDS:
            raise ValueError(f"dither: must be one of {', '.join(DITHER_KINDS)} (got {dither!r})")
        seed = check_number(seed, "seed", ge=0, integer=True)
        self.scale = float(2 ** (depth - 1))
        self.first = self.second = None
        if dither == "tpdf":  # default_rng's generator: PCG64, which can jump ahead
            self.first = np.random.Generator(np.random.PCG64(seed))
            self.second = np.random.Generator(np.random.PCG64(seed).advance(values))  # a 64-bit draw per double

    def process(self, block: np.ndarray) -> np.ndarray:
        """The next block, quantised: float64 values k / 2**(bit_depth-1), clipped to [-1, 1 - 1 LSB]."""
        check_audio(block)
        scaled = np.multiply(block, self.scale, dtype=np.float64)
        if self.first is not None and self.second is not None:
            scaled += self.first.uniform(-0.5, 0.5, size=scaled.shape)
            scaled += self.second.uniform(-0.5, 0.5, size=scaled.shape)
        np.rint(scaled, out=scaled)
        np.clip(scaled, -self.scale, self.scale - 1.0, out=scaled)
        scaled /= self.scale
        return scaled

