"""Music-like test signals for benchmarks: what meters, limiters and codecs see in a real mix."""

from __future__ import annotations

import numpy as np
from scipy import signal


def notes_kick_hats(seconds: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Float64 stereo, unnormalised: 250 ms harmonic notes panned at random, a kick every 500 ms, and
    high-passed noise hats pulsing 8 times a second; the caller shapes sections and level."""
    frames = int(seconds * rate)
    t = np.arange(frames) / rate
    out = np.zeros((frames, 2))
    note_frames = int(0.25 * rate)
    tt = np.arange(note_frames) / rate
    decay = np.exp(-4.0 * tt) * np.minimum(tt / 0.005, 1.0)
    for start in range(0, frames - note_frames, note_frames):
        f0 = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        tone = sum(np.sin(2 * np.pi * f0 * k * tt + rng.uniform(0, 6.3)) / k for k in range(1, 6))
        pan = rng.uniform(0.2, 0.8)
        out[start:start + note_frames] += (tone * decay)[:, None] * [1 - pan, pan]
    kick = np.sin(2 * np.pi * (50 * tt + 8 * (1 - np.exp(-15 * tt)))) * np.exp(-12 * tt)
    for start in range(0, frames - note_frames, 2 * note_frames):
        out[start:start + note_frames] += 1.5 * kick[:, None]
    hats = signal.sosfilt(signal.butter(4, 6000, "high", fs=rate, output="sos"), rng.standard_normal((frames, 2)),
                          axis=0)
    out += 0.3 * hats * (np.exp(-((t * 8) % 1) * 6))[:, None]
    return out
