"""Look-ahead true-peak limiter (the detector is the BS.1770-4 Annex 2 true-peak envelope).

The gain is computed offline as a non-causal curve, which is what a look-ahead
limiter with its audio delayed by the look-ahead and trimmed back computes: the
output is time-aligned with the input and has the same frames. Every step is
vectorised: sliding minimum (hold), moving average (attack ramp), and the
release recursion GR[n] = max(GR_target[n], c * GR[n-1]) solved exactly as a
running maximum in the log domain.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import minimum_filter1d

from stages.dsp.truepeak import INTERPOLATOR_HALF_TAPS, check_audio, check_sample_rate, true_peak_envelope

#: The gain aims this far under the ceiling: a time-varying gain lets the reconstructed
#: waveform exceed the sample-wise bound by a few hundredths of a dB.
SAFETY_MARGIN_DB = 0.05
#: A release tail under this reduction ends (the attack curve still bounds the gain).
RELEASE_FLOOR_DB = 1e-6
#: Measure -> re-limit passes at most; each further pass doubles the margin.
MAX_PASSES = 4


def _check_range(name: str, value: float, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a number (got {value!r})") from None
    if not (low <= number <= high):
        raise ValueError(f"{name}: must be in [{low:g}, {high:g}] (got {value!r})")
    return number


def limiter_gain(
    envelope: np.ndarray,
    target: float,
    lookahead_frames: int,
    hold_frames: int,
    release_frames: float,
) -> np.ndarray:
    """Linear gain per frame that keeps envelope*gain <= target over +-hold_frames of every frame.

    Hold = sliding min of the required gain over [n - hold, n + lookahead + hold]; attack = moving
    average of that over lookahead + 1 frames (ends at or below the required gain, hence <= it);
    release = gain reduction in dB decaying with time constant release_frames.
    """
    frames = envelope.shape[0]
    required = np.ones(frames)
    np.divide(target, envelope, out=required, where=envelope > target)
    size = lookahead_frames + 2 * hold_frames + 1
    held = minimum_filter1d(required, size=size, mode="nearest", origin=hold_frames - size // 2)
    del required
    # attack ramp: mean of held[n - lookahead .. n], padded at the start with held[0]
    cumsum = np.empty(frames + lookahead_frames + 1)
    cumsum[0] = 0.0
    cumsum[1 : lookahead_frames + 1] = held[0]
    cumsum[lookahead_frames + 1 :] = held
    np.cumsum(cumsum, out=cumsum)
    attack = cumsum[lookahead_frames + 1 :] - cumsum[:frames]
    attack /= lookahead_frames + 1
    np.minimum(attack, held, out=attack)  # guard the last ulp of the running sum
    del cumsum, held
    # release: GR[n] = max(GR_t[n], c GR[n-1]), c = exp(-1/release_frames), GR in dB >= 0.
    # In logs: ln GR[n] = max_{k<=n}(ln GR_t[k] + k/release) - n/release, a running maximum.
    with np.errstate(divide="ignore"):
        log_reduction = np.log(-20.0 * np.log10(attack))  # -inf where no reduction
    ramp = np.arange(frames, dtype=np.float64)
    ramp /= release_frames
    log_reduction += ramp
    np.maximum.accumulate(log_reduction, out=log_reduction)
    log_reduction -= ramp
    del ramp
    reduction_db = np.exp(log_reduction, out=log_reduction)
    reduction_db[reduction_db < RELEASE_FLOOR_DB] = 0.0  # end the tail: far from overs, gain is exactly 1
    gain = np.power(10.0, reduction_db * (-1.0 / 20.0))
    np.minimum(gain, attack, out=gain)
    return gain


def true_peak_limit(
    audio: np.ndarray,
    sample_rate_hz: float,
    ceiling_dbtp: float = -1.0,
    release_ms: float = 100.0,
    lookahead_ms: float = 5.0,
) -> np.ndarray:
    """Limit the true peak (BS.1770-4 Annex 2) to ceiling_dbtp with a look-ahead limiter; float64, same frames.

    A signal already at or under the ceiling is returned unchanged (a float64 copy). Aims 0.05 dB under the
    ceiling and re-measures, re-limiting the output at most MAX_PASSES times, so our meter never reads over it.
    """
    check_audio(audio)
    rate = check_sample_rate(sample_rate_hz)
    ceiling_dbtp = _check_range("ceiling_dbtp", ceiling_dbtp, -60.0, 0.0)
    release_ms = _check_range("release_ms", release_ms, 1.0, 10_000.0)
    lookahead_ms = _check_range("lookahead_ms", lookahead_ms, 0.5, 50.0)
    out = np.array(audio, dtype=np.float64, copy=True)
    if out.shape[0] == 0:
        return out
    ceiling = 10.0 ** (ceiling_dbtp / 20.0)
    envelope = true_peak_envelope(out, rate)
    lookahead_frames = max(1, int(round(lookahead_ms * rate / 1000.0)))
    release_frames = release_ms * rate / 1000.0
    margin_db = SAFETY_MARGIN_DB
    for _ in range(MAX_PASSES):
        if float(envelope.max()) <= ceiling:
            break
        target = ceiling * 10.0 ** (-margin_db / 20.0)
        gain = limiter_gain(envelope, target, lookahead_frames, INTERPOLATOR_HALF_TAPS + 1, release_frames)
        out *= gain[:, None]
        envelope = true_peak_envelope(out, rate)
        margin_db *= 2.0
    return out


def gain_reduction_db(audio: np.ndarray, limited: np.ndarray) -> float:
    """Largest gain reduction in dB between an input and its limited output (0.0 when identical)."""
    check_audio(audio)
    check_audio(limited, "limited")
    if audio.shape != limited.shape:
        raise ValueError(f"limited: must have the shape of audio {audio.shape} (got {limited.shape})")
    a = np.abs(np.asarray(audio, dtype=np.float64)).max(axis=1)
    b = np.abs(limited).max(axis=1)
    mask = a > 0
    if not mask.any():
        return 0.0
    ratio = float((b[mask] / a[mask]).min())
    return 0.0 if ratio >= 1.0 else -20.0 * math.log10(ratio)
