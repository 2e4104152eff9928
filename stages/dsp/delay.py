"""Feedback delay with a one-pole low-pass in the loop, rendered as its impulse response.

The loop is linear and time-invariant, so its response (echo k: feedback^(k-1), low-passed k times)
is built once and convolved with `oaconvolve`: vectorised, and exact to -90 dB.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

CUTOFF_DB = -90.0


def beats_to_ms(beats: float, tempo_bpm: float) -> float:
    """Delay time in ms of `beats` quarter notes at `tempo_bpm`."""
    if not tempo_bpm or tempo_bpm <= 0:
        raise ValueError(f"tempo_bpm must be > 0 (got {tempo_bpm})")
    return beats * 60000.0 / tempo_bpm


def _echo_count(feedback: float, floor_db: float) -> int:
    if feedback <= 0:
        return 1
    return 1 + math.ceil(floor_db / (20 * math.log10(feedback)))


def delay_tail_s(time_ms: float, feedback: float) -> float:
    """Seconds until the echoes have fallen 60 dB."""
    return _echo_count(feedback, -60.0) * time_ms / 1000.0


def delay_ir(sample_rate_hz: float, time_ms: float, feedback: float, highcut_hz: float | None) -> np.ndarray:
    """Impulse response (wet only): echoes every `time_ms`, each `feedback` x the last, low-passed in the loop."""
    if not 0 <= feedback < 1:
        raise ValueError(f"feedback must be in [0, 1) (got {feedback})")
    step = int(round(time_ms * sample_rate_hz / 1000.0))
    if step < 1:
        raise ValueError(f"time_ms must be at least one sample (got {time_ms})")
    count = _echo_count(feedback, CUTOFF_DB)
    ir = np.zeros(count * step + step)
    echo = np.zeros(step)
    echo[0] = 1.0
    lowpass = None
    if highcut_hz is not None and highcut_hz < 0.45 * sample_rate_hz:
        pole = math.exp(-2 * math.pi * highcut_hz / sample_rate_hz)
        lowpass = ([1.0 - pole], [1.0, -pole])
    for k in range(1, count + 1):
        if lowpass is not None:
            echo = signal.lfilter(*lowpass, echo)
        ir[k * step:(k + 1) * step] += feedback ** (k - 1) * echo
    return ir


def apply_delay(audio: np.ndarray, sample_rate_hz: float, time_ms: float, feedback: float = 0.3,
                highcut_hz: float | None = None, wet_only: bool = True) -> np.ndarray:
    """Delay `(frames, channels)` audio; same frames out (the engine pads inputs with the song's tail)."""
    x = np.asarray(audio, dtype=np.float64)
    ir = delay_ir(sample_rate_hz, time_ms, feedback, highcut_hz)
    wet = signal.oaconvolve(x, ir[:, None], axes=0)[: x.shape[0]]
    return wet if wet_only else x + wet
