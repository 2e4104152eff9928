"""Deterministic algorithmic reverb: seeded, exponentially decaying, frequency-damped noise IR.

The broadband energy envelope falls 60 dB in `decay_s` (RT60); `damping` makes the octave bands
above 500 Hz fade faster relative to the others without changing that broadband decay.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

LN_1000 = np.log(1000.0)  # 60 dB of amplitude
BAND_EDGES_HZ = (0.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, np.inf)
IR_LENGTH_RT60 = 1.5  # the IR runs to -90 dB


def reverb_tail_s(decay_s: float, predelay_ms: float = 0.0) -> float:
    """How long the reverb rings after its input stops (to -60 dB)."""
    return decay_s + predelay_ms / 1000.0


def reverb_ir(sample_rate_hz: float, decay_s: float, predelay_ms: float = 0.0, damping: float = 0.5,
              width: float = 1.0, seed: int = 0) -> np.ndarray:
    """Stereo IR `(frames, 2)` with unit energy per channel; same seed, same IR."""
    if not 0.05 <= decay_s <= 30:
        raise ValueError(f"decay_s must be in [0.05, 30] (got {decay_s})")
    if not 0 <= damping <= 1 or not 0 <= width <= 1:
        raise ValueError(f"damping and width must be in [0, 1] (got {damping}, {width})")
    n = int(IR_LENGTH_RT60 * decay_s * sample_rate_hz)
    t = np.arange(n) / sample_rate_hz
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((2, n))
    noise[1] = width * noise[1] + (1 - width) * noise[0]
    spectrum = np.fft.rfft(noise, axis=1)
    freqs = np.fft.rfftfreq(n, 1 / sample_rate_hz)
    mixed = np.zeros((2, n))
    weight_energy = np.zeros(n)
    for index, (lo, hi) in enumerate(zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:])):
        band = np.fft.irfft(np.where((freqs >= lo) & (freqs < hi), spectrum, 0), n=n, axis=1)
        band /= np.sqrt(np.mean(band**2, axis=1, keepdims=True)) + 1e-30
        weight = np.exp(-damping * index * 2.0 * t / decay_s)  # higher bands fade faster
        mixed += band * weight
        weight_energy += weight**2
    ir = mixed / np.sqrt(weight_energy) * np.exp(-LN_1000 * t / decay_s)
    ir /= np.sqrt(np.sum(ir**2, axis=1, keepdims=True))
    predelay = int(round(predelay_ms * sample_rate_hz / 1000.0))
    return np.concatenate([np.zeros((predelay, 2)), ir.T], axis=0)


def apply_reverb(audio: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """Wet signal: each channel convolved with its IR channel (mono input feeds both); same frames out."""
    x = np.asarray(audio, dtype=np.float64)
    if x.shape[1] == 1:
        x = np.repeat(x, 2, axis=1)
    return signal.oaconvolve(x, ir, axes=0)[: x.shape[0]]
