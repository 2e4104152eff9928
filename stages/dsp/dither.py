"""Word-length reduction with TPDF dither (for 16-bit delivery, e.g. CD at 44.1 kHz / 16 bit).

Codes are integers k in [-2**(bit_depth-1), 2**(bit_depth-1) - 1], the values k / 2**(bit_depth-1) that
the encoder writes exactly. Randomness comes from numpy's PCG64 seeded with `seed`; the export stage passes
its params' `dither_seed`, which the engine derives from the export node's id: same node, same bytes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mixbuild.stages.dsp.checks import check_audio, check_number

DITHER_KINDS = ("tpdf", "none")
MIN_BIT_DEPTH = 2
MAX_BIT_DEPTH = 32
#: One 32-bit half of a PCG64 draw, as a fraction of one LSB.
_HALF_DRAW_LSB = 2.0 ** -32


@njit(cache=True, nogil=True)
def _quantise(block: np.ndarray, scale: float, noise: np.ndarray, codes: np.ndarray,  # pragma: no cover
              packed: np.ndarray, decoded: np.ndarray) -> bool:
    # codes = clip(rint(block * scale + tpdf), -scale, scale - 1), row by row; False at a non-finite sample.
    # tpdf from draw k (one per sample, in order): its two 32-bit halves, each uniform on [0, 1) LSB, summed
    # and centred: (hi + lo + 1) 2^-32 - 1, triangular on (-1, 1) LSB with mean 0. With a non-empty `packed`
    # instead of `codes`: each code as little-endian two's complement of packed.size / block.size bytes. With a
    # non-empty `decoded`: each code's value code / scale as float32 (exact: a power-of-two scale).
    frames, channels = block.shape
    width = packed.shape[0] // max(block.size, 1)
    unscale = np.float32(1.0 / scale)
    k = 0
    for i in range(frames):
        for c in range(channels):
            v = np.float64(block[i, c])
            if not np.isfinite(v):
                return False
            v *= scale
            if noise.shape[0]:
                draw = noise[k]
                v += (np.float64(draw >> np.uint64(32)) + np.float64(draw & np.uint64(0xFFFFFFFF)) + 1.0) \
                    * _HALF_DRAW_LSB - 1.0
            r = np.rint(v)
            r = -scale if r < -scale else r
            r = scale - 1.0 if r > scale - 1.0 else r
            code = np.int64(r)
            if width:
                at = k * width
                packed[at] = np.uint8(code & 0xFF)
                packed[at + 1] = np.uint8((code >> 8) & 0xFF)
                if width == 3:
                    packed[at + 2] = np.uint8((code >> 16) & 0xFF)
            else:
                codes[i, c] = code
            if decoded.shape[0]:
                decoded[i, c] = np.float32(code) * unscale
            k += 1
    return True


class Quantizer:
    """Quantise to bit_depth bits as a stream over consecutive blocks of one signal: int64 codes k, or the
    float64 values k / 2**(bit_depth-1), clipped to [-1, 1 - 1 LSB].

    "tpdf" adds triangular noise of +-1 LSB (two independent uniform +-0.5 LSB variables: total error RMS =
    LSB/2, independent of the signal) before rounding; "none" rounds to nearest (half to even). The noise is
    one PCG64 draw per sample, its two 32-bit halves the two variables, taken in order whatever the blocks:
    the stream's cut does not change a sample, and the generator is the cost (one draw, not two)."""

    def __init__(self, bit_depth: int, dither: str, seed: int) -> None:
        depth = check_number(bit_depth, "bit_depth", ge=MIN_BIT_DEPTH, le=MAX_BIT_DEPTH, integer=True)
        if dither not in DITHER_KINDS:
            raise ValueError(f"dither: must be one of {', '.join(DITHER_KINDS)} (got {dither!r})")
        seed = check_number(seed, "seed", ge=0, integer=True)
        self.scale = float(2 ** (depth - 1))
        self.draws = np.random.PCG64(seed) if dither == "tpdf" else None

    def codes(self, block: np.ndarray, decoded: np.ndarray | None = None) -> np.ndarray:
        """The next block's integer codes (int64, the block's shape); `decoded` (float32, the block's shape), if
        given, receives the samples they decode to (code / 2**(bit_depth-1), exact) in the same pass."""
        codes = np.empty(block.shape, dtype=np.int64)
        self._run(block, codes, np.empty(0, dtype=np.uint8),
                  np.empty((0, 0), dtype=np.float32) if decoded is None else decoded)
        return codes

    def pcm(self, block: np.ndarray, sample_bytes: int) -> tuple[np.ndarray, np.ndarray]:
        """The next block's codes as little-endian PCM of `sample_bytes` bytes a sample, interleaved (uint8: a
        WAV's data), and the float32 samples they decode to (code / 2**(bit_depth-1), exact), in one pass."""
        packed = np.empty(block.size * sample_bytes, dtype=np.uint8)
        decoded = np.empty(block.shape, dtype=np.float32)
        self._run(block, np.empty((0, 0), dtype=np.int64), packed, decoded)
        return packed, decoded

    def _run(self, block: np.ndarray, codes: np.ndarray, packed: np.ndarray, decoded: np.ndarray) -> None:
        check_audio(block[:0])  # shape and dtype; the samples are checked as they are quantised
        noise = self.draws.random_raw(block.size) if self.draws is not None else np.empty(0, dtype=np.uint64)
        if not _quantise(block, self.scale, noise, codes, packed, decoded):
            raise ValueError("audio contains NaN or Inf samples")

    def process(self, block: np.ndarray) -> np.ndarray:
        """The next block, quantised: float64 values k / 2**(bit_depth-1), clipped to [-1, 1 - 1 LSB]."""
        return self.codes(block) / self.scale
