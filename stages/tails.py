"""How long effects ring after their input stops: the engine sizes songs with these (no scipy import)."""

from __future__ import annotations

import math

TAIL_DB = -60.0


def beats_to_ms(beats: float, tempo_bpm: float | None) -> float:
    """Delay time in ms of `beats` beats at `tempo_bpm` (60000 * beats / tempo_bpm)."""
    if tempo_bpm is None or tempo_bpm <= 0:
        raise ValueError(f"tempo_bpm: must be > 0 to set a delay in beats (got {tempo_bpm!r})")
    return 60000.0 * beats / tempo_bpm


def echo_count(feedback: float, floor_db: float) -> int:
    """Echoes down to `floor_db` below the first: 1 + ceil(floor_db / (20 log10 feedback))."""
    if feedback <= 0:
        return 1
    return 1 + math.ceil(floor_db / (20 * math.log10(feedback)))


def delay_tail_s(time_ms: float, feedback: float) -> float:
    """Seconds until a feedback delay's echoes have fallen 60 dB below the first (one echo without feedback)."""
    return echo_count(feedback, TAIL_DB) * time_ms / 1000.0


def reverb_tail_s(decay_s: float, predelay_ms: float = 0.0) -> float:
    """Seconds a reverb rings after its input stops: predelay plus RT60."""
    return predelay_ms / 1000.0 + decay_s
