"""Feed-forward log-domain compressor after Giannoulis, Massberg & Reiss 2012, "Digital Dynamic Range
Compressor Design - A Tutorial and Analysis" (JAES 60(6)), figure 7 topology.

Stereo-linked per-sample peak detector (max |x| over channels) -> level in dB -> static curve with a
quadratic soft knee (eq. 4) -> smooth *branching* one-pole ballistics on the gain reduction in dB
(eq. 16) -> linear gain applied to every channel. Branching keeps attack and release exact one-pole
responses: attack_ms (release_ms) is the time to cover 1 - 1/e = 63 % of a step in gain reduction,
coefficient = exp(-1 / (time_s * sample_rate_hz)). The detector and static curve are numpy, run in
fixed blocks with reused buffers so no whole-track temporaries are touched; the recursion is compiled
with numba and applies the resulting gain in the same pass (one pass less over the output).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from stages.dsp.eq import band_sos
from stages.dsp.checks import check_audio, check_number, check_sample_rate
from stages.dsp.iir import initial_state, sosfilt

#: Detector floor: silence reads -200 dB (never -inf), far below any threshold.
FLOOR_DB = -200.0
_FLOOR_AMPLITUDE = 10.0 ** (FLOOR_DB / 20.0)
_DB_PER_NEPER = 20.0 / math.log(10.0)
_NEPER_PER_DB = math.log(10.0) / 20.0
#: Frames per block: buffers stay in cache, Python overhead stays under 5 % of the time.
BLOCK_FRAMES = 1 << 15


def time_coefficient(time_ms: float, sample_rate_hz: float) -> float:
    """One-pole smoothing coefficient exp(-1/(tau_s*fs)): a step is 63 % (1 - 1/e) covered after time_ms."""
    return math.exp(-1.0 / (time_ms * 1e-3 * sample_rate_hz))


def _knee_curve(over: np.ndarray, knee_db: float, out: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """Eq. 4 divided by its slope, branch-free: u^2/(2W) + max(over - W/2, 0), u = clip(over + W/2, 0, W).

    Equals 0 below the knee, (over + W/2)^2/(2W) inside it, over above it; written into out.
    """
    half = 0.5 * knee_db
    np.subtract(over, half, out=out)
    np.maximum(out, 0.0, out=out)
    if knee_db > 0.0:
        np.add(over, half, out=scratch)
        np.clip(scratch, 0.0, knee_db, out=scratch)
        np.square(scratch, out=scratch)
        scratch *= 0.5 / knee_db
        out += scratch
    return out


@njit(cache=True, nogil=True)
def _ballistics_and_gain(reduction_db: np.ndarray, state_db: float, attack_coef: float, release_coef: float,
                         makeup_db: float, block: np.ndarray, out: np.ndarray) -> float:
    """Smooth branching detector (Giannoulis et al. eq. 16) on the gain reduction in dB (>= 0), then the
    gain 10^((makeup_db - y)/20) applied to every channel of block, into out. Returns the last state.

    y[n] = c*y[n-1] + (1-c)*x[n], written y = x + c*(y - x), with c = attack_coef when x[n] > y[n-1]
    (more reduction), else release_coef. Reductions under 1e-200 dB are flushed to 0 (no denormals).
    """
    state = state_db
    channels = block.shape[1]
    for n in range(reduction_db.shape[0]):
        x = reduction_db[n]
        coef = attack_coef if x > state else release_coef
        state = x + coef * (state - x)
        if state < 1e-200:
            state = 0.0
        gain = math.exp((makeup_db - state) * _NEPER_PER_DB)
        for ch in range(channels):
            out[n, ch] = block[n, ch] * gain
    return state


def compress(audio: np.ndarray, sample_rate_hz: float, threshold_db: float, ratio: float, knee_db: float = 6.0,
             attack_ms: float = 10.0, release_ms: float = 100.0, makeup_db: float = 0.0,
             sidechain_highpass_hz: float | None = None) -> np.ndarray:
    """Compress (frames, channels) audio with one stereo-linked gain; returns a new float64 array.

    The detector (optionally through a 12 dB/oct RBJ high-pass at sidechain_highpass_hz, detector only)
    is the per-sample peak over channels in dB; gain = static curve smoothed by attack/release, + makeup_db.
    """
    check_audio(audio)
    rate = check_sample_rate(sample_rate_hz)
    threshold = check_number(threshold_db, "threshold_db")
    slope = 1.0 / check_number(ratio, "ratio", ge=1.0, finite=False) - 1.0  # ratio inf: a limiter curve
    knee = check_number(knee_db, "knee_db", ge=0.0)
    attack = time_coefficient(check_number(attack_ms, "attack_ms", gt=0.0), rate)
    release = time_coefficient(check_number(release_ms, "release_ms", gt=0.0), rate)
    makeup = check_number(makeup_db, "makeup_db")
    frames, channels = audio.shape
    sidechain = None
    if sidechain_highpass_hz is not None:
        sidechain = band_sos("highpass", sidechain_highpass_hz, rate)
        sidechain_state = initial_state(sidechain, channels)

    out = np.empty((frames, channels), dtype=np.float64)
    size = min(BLOCK_FRAMES, max(frames, 1))
    level, work, scratch = np.empty(size), np.empty(size), np.empty(size)
    state = 0.0
    for start in range(0, frames, size):  # a loop over blocks, never over samples
        stop = min(start + size, frames)
        n = stop - start
        block = audio[start:stop]
        detector = block
        if sidechain is not None:
            detector = sosfilt(sidechain, block, sidechain_state)
        lev, tmp, scr = level[:n], work[:n], scratch[:n]
        np.abs(detector[:, 0], out=lev, casting="unsafe")
        for ch in range(1, channels):
            np.abs(detector[:, ch], out=tmp, casting="unsafe")
            np.maximum(lev, tmp, out=lev)
        np.maximum(lev, _FLOOR_AMPLITUDE, out=lev)
        np.log(lev, out=lev)
        lev *= _DB_PER_NEPER  # level in dB
        lev -= threshold  # over = level_db - threshold_db
        _knee_curve(lev, knee, tmp, scr)
        tmp *= -slope  # target gain reduction in dB, >= 0
        state = _ballistics_and_gain(tmp, state, attack, release, makeup, block, out[start:stop])
    return out
