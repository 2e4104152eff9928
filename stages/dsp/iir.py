"""Second-order-section IIR filtering along time, compiled with numba: the one recursion every filter here uses.

Same arithmetic as scipy.signal.sosfilt (transposed direct form II, float64, state carried between calls), but
without importing scipy.signal, whose import alone costs 1-2 s per process on these machines (it loads
scipy.stats and parses ~800 docstrings) - more than an incremental rebuild spends rendering.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _sos_filter(sos: np.ndarray, x: np.ndarray,  # pragma: no cover - compiled; covered through sosfilt
                out: np.ndarray, state: np.ndarray) -> None:
    # frame by frame, channels and sections innermost: x is read once, in memory order, and the whole
    # cascade stays in cache (1.2x a channel-at-a-time pass, 2x a section-at-a-time pass, here).
    # Reading float32 or float64 x directly saves the pass that a float64 copy would cost.
    frames, channels = x.shape
    for n in range(frames):
        for c in range(channels):
            v = np.float64(x[n, c])
            for s in range(sos.shape[0]):
                y = sos[s, 0] * v + state[s, c, 0]
                state[s, c, 0] = sos[s, 1] * v - sos[s, 4] * y + state[s, c, 1]
                state[s, c, 1] = sos[s, 2] * v - sos[s, 5] * y
                v = y
            out[n, c] = v


def initial_state(sos: np.ndarray, channels: int) -> np.ndarray:
    """Zero filter state (n_sections, channels, 2) for `sosfilt`: the filter at rest."""
    return np.zeros((np.asarray(sos).shape[0], channels, 2), dtype=np.float64)


def sosfilt(sos: np.ndarray, x: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
    """Filter x ((frames,) or (frames, channels)) along time through sections sos ((n, 6), a0 = 1); float64, new array.

    `state` (from `initial_state`) is read and updated in place, so a track filtered block by block is
    bit-identical to one call on the whole track.
    """
    sections = np.ascontiguousarray(sos, dtype=np.float64)
    if sections.ndim != 2 or sections.shape[1] != 6:
        raise ValueError(f"sos: must have shape (n_sections, 6) (got shape {sections.shape})")
    samples = np.asarray(x)
    if samples.dtype not in (np.float32, np.float64):
        samples = samples.astype(np.float64)
    if samples.ndim not in (1, 2):
        raise ValueError(f"x: must be (frames,) or (frames, channels) (got shape {samples.shape})")
    frames_by_channel = samples.reshape(samples.shape[0], -1)
    out = np.empty(frames_by_channel.shape, dtype=np.float64)
    if state is None:
        state = initial_state(sections, out.shape[1])
    if state.shape != (sections.shape[0], out.shape[1], 2) or state.dtype != np.float64:
        raise ValueError(f"state: must be float64 of shape {(sections.shape[0], out.shape[1], 2)} "
                         f"(got {state.dtype} {state.shape})")
    _sos_filter(sections, frames_by_channel, out, state)
    return out.reshape(samples.shape)
