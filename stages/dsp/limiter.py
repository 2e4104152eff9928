"""Look-ahead true-peak limiter (the detector is the BS.1770-4 Annex 2 true-peak envelope).

The gain is computed offline as a non-causal curve, which is what a look-ahead
limiter with its audio delayed by the look-ahead and trimmed back computes: the
output is time-aligned with the input and has the same frames. Every step is
vectorised: sliding minimum (hold), moving average (attack ramp), and the
release recursion GR[n] = max(GR_target[n], c * GR[n-1]) solved exactly as a
running maximum in the log domain.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from stages.dsp.checks import check_audio, check_number, check_sample_rate
from stages.dsp.truepeak import INTERPOLATOR_HALF_TAPS, true_peak_envelope

#: The gain aims this far under the ceiling: a time-varying gain lets the reconstructed
#: waveform exceed the sample-wise bound by a few hundredths of a dB.
SAFETY_MARGIN_DB = 0.05
#: A release tail under this reduction (1e-6 dB, in nepers) ends; the attack curve still bounds the gain.
RELEASE_FLOOR_NEPER = 1e-6 * np.log(10.0) / 20.0
_LOG_RELEASE_FLOOR = float(np.log(RELEASE_FLOOR_NEPER))
_CHUNK_FRAMES = 1 << 15
#: Measure -> re-limit passes at most; each further pass doubles the margin.
MAX_PASSES = 4


def limiter_gain(
    envelope: np.ndarray,
    target: float,
    lookahead_frames: int,
    hold_frames: int,
    release_frames: float,
) -> np.ndarray:
    """Linear gain per frame that keeps envelope*gain <= target over +-hold_frames of every frame.

    Hold = sliding min of the required gain over [n - hold, n + lookahead + hold]; attack = moving
    average of that over [n - lookahead, n] (it reaches the required gain by frame n, never exceeds it);
    release = gain reduction in nepers (dB up to a factor) decaying with time constant release_frames.
    Computed in chunks that stay in cache; edges repeat the first and last frames.
    """
    frames = envelope.shape[0]
    gain = np.empty(frames)
    hold_size = lookahead_frames + 2 * hold_frames + 1
    attack_size = lookahead_frames + 1
    before = lookahead_frames + hold_frames  # context needed left of a chunk
    after = lookahead_frames + hold_frames  # and right of it
    ramp = np.arange(_CHUNK_FRAMES, dtype=np.float64) / release_frames
    carry = -np.inf
    for start in range(0, frames, _CHUNK_FRAMES):
        stop = min(frames, start + _CHUNK_FRAMES)
        n = stop - start
        index = np.clip(np.arange(start - before, stop + after), 0, frames - 1)
        with np.errstate(divide="ignore"):
            required = np.divide(target, envelope[index])
        np.minimum(required, 1.0, out=required)
        held = minimum_filter1d(required, size=hold_size, mode="nearest", origin=hold_frames - hold_size // 2)
        attack = uniform_filter1d(held, size=attack_size, mode="nearest", origin=(attack_size - 1) - attack_size // 2)
        np.minimum(attack, held, out=attack)  # guard the last ulp of the running sum
        np.maximum(attack, np.finfo(np.float64).tiny, out=attack)  # a running sum of tiny gains can dip below 0
        attack = attack[before : before + n]
        if carry < _LOG_RELEASE_FLOOR and attack.min() == 1.0:
            gain[start:stop] = 1.0  # nothing to limit and no release tail: skip the transcendental work
            carry = -np.inf
            continue
        # release: R[n] = max(R_t[n], c R[n-1]) with R = -ln(gain) >= 0 and c = exp(-1/release_frames).
        # In logs a running maximum: ln R[n] = max_{k<=n}(ln R_t[k] + k/release) - n/release; the chunk
        # starts from the carried ln R of the previous chunk's last frame.
        chunk = gain[start:stop]
        np.log(attack, out=chunk)
        np.negative(chunk, out=chunk)
        with np.errstate(divide="ignore"):
            np.log(chunk, out=chunk)  # -inf where no reduction
        chunk += ramp[:n]
        np.maximum.accumulate(chunk, out=chunk)
        np.maximum(chunk, carry, out=chunk)
        chunk -= ramp[:n]
        carry = float(chunk[-1]) - 1.0 / release_frames
        np.exp(chunk, out=chunk)
        chunk[chunk < RELEASE_FLOOR_NEPER] = 0.0  # end the tail: far from overs, the gain is exactly 1
        np.negative(chunk, out=chunk)
        np.exp(chunk, out=chunk)
        np.minimum(chunk, attack, out=chunk)
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
    ceiling, re-measures and re-limits the output (at most MAX_PASSES passes, then a static trim), so our
    meter never reads over the ceiling.
    """
    check_audio(audio)
    rate = check_sample_rate(sample_rate_hz)
    ceiling_dbtp = check_number(ceiling_dbtp, "ceiling_dbtp", ge=-60.0, le=0.0)
    release_ms = check_number(release_ms, "release_ms", ge=1.0, le=10_000.0)
    lookahead_ms = check_number(lookahead_ms, "lookahead_ms", ge=0.5, le=50.0)
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
    peak = float(envelope.max())
    if peak > ceiling:  # last resort, never met in the tests: a static gain, exact since the meter is linear
        out *= ceiling / peak * (1.0 - 1e-9)
    return out

