"""Feed-forward log-domain compressor after Giannoulis, Massberg & Reiss 2012, "Digital Dynamic Range
Compressor Design - A Tutorial and Analysis" (JAES 60(6)), figure 7 topology.

Stereo-linked per-sample peak detector (max |x| over channels) -> level in dB -> static curve with a
quadratic soft knee (eq. 4) -> smooth *branching* one-pole ballistics on the gain reduction in dB
(eq. 16) -> linear gain applied to every channel. Branching keeps attack and release exact one-pole
responses: attack_ms (release_ms) is the time to cover 1 - 1/e = 63 % of a step in gain reduction,
coefficient = exp(-1 / (time_s * sample_rate_hz)). Fixed blocks with reused buffers, so no whole-track
temporaries are touched: per block one compiled pass takes the detector level, numpy takes its log (only
of the levels that can reach the knee: under it the curve is 0 whatever the log), one compiled pass runs
the static curve and the recursion, and one the gains' exps and applies them. Each operation is the one
the earlier numpy formulation did, in the same order, so the output is the same, bit for bit (the tests
keep that formulation as their reference).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mixbuild.stages.dsp.eq import band_sos
from mixbuild.stages.dsp.checks import check_audio, check_number, check_sample_rate
from mixbuild.stages.dsp.iir import initial_state, sosfilt

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


@njit(cache=True, nogil=True)
def _peak_level(detector: np.ndarray, knee_floor: float, level: np.ndarray,  # pragma: no cover - compiled
                loud: np.ndarray) -> int:
    # level = max(max |x| over channels, FLOOR) per frame, float64 (one pass for numpy's four); the levels
    # over knee_floor also go, in order, into loud. Returns their count.
    channels = detector.shape[1]
    count = 0
    for n in range(detector.shape[0]):
        v = _FLOOR_AMPLITUDE
        if channels == 2:  # unrolled
            a, b = abs(np.float64(detector[n, 0])), abs(np.float64(detector[n, 1]))
            v = a if a > v else v
            v = b if b > v else v
        else:
            for ch in range(channels):
                a = abs(np.float64(detector[n, ch]))
                v = a if a > v else v
        level[n] = v
        loud[count] = v
        count += v > knee_floor
    return count


@njit(cache=True, nogil=True)
def _ballistics_and_gain(level: np.ndarray, knee_floor: float, log_loud: np.ndarray,  # pragma: no cover
                         threshold_db: float, knee_db: float, reduction_per_db: float, state_db: float,
                         attack_coef: float, release_coef: float, makeup_db: float, block: np.ndarray,
                         states: np.ndarray, out: np.ndarray) -> float:
    """Static curve and ballistics in one pass over a block, gain in a second; returns the last ballistics state.

    Per frame over = level_db - threshold_db, level_db from the natural log of the level: the next of
    log_loud for a level over knee_floor; under it the curve is 0 whatever the log (see `compress`), so
    none was taken. The target gain reduction is reduction_per_db (1 - 1/ratio) times eq. 4 divided by its
    slope, branch-free: u^2/(2W) + max(over - W/2, 0), u = clip(over + W/2, 0, W) (0 below the knee,
    (over + W/2)^2/(2W) inside it, over above it). Then the smooth branching detector (Giannoulis et al.
    eq. 16) on it: y[n] = c*y[n-1] + (1-c)*x[n], written y = x + c*(y - x), with c = attack_coef when
    x[n] > y[n-1] (more reduction), else release_coef; reductions under 1e-200 dB are flushed to 0 (no
    denormals). Then the gain 10^((makeup_db - y)/20) applied to every channel of block, into out. Each
    operation is the one the numpy formulation did.
    """
    half = 0.5 * knee_db
    knee_scale = 0.5 / knee_db if knee_db > 0.0 else 0.0
    quiet = 0.0 * reduction_per_db  # the reduction of a zero curve (-0.0 for ratio 1)
    state = state_db
    channels = block.shape[1]
    j = 0
    for n in range(level.shape[0]):
        x = quiet
        if level[n] > knee_floor:
            over = log_loud[j] * _DB_PER_NEPER - threshold_db
            j += 1
            curve = over - half
            curve = curve if curve >= 0.0 else 0.0
            if knee_db > 0.0:
                u = over + half
                u = u if u > 0.0 else 0.0
                u = u if u < knee_db else knee_db
                curve += u * u * knee_scale
            x = curve * reduction_per_db
        coef = attack_coef if x > state else release_coef
        state = x + coef * (state - x)
        if state < 1e-200:
            state = 0.0
        states[n] = state
    # The recursion waits on its own arithmetic; the exps do not wait on one another: in a loop of their
    # own they overlap (the block about 1.2x faster than with the exps in the recursion's loop).
    for n in range(level.shape[0]):
        gain = math.exp((makeup_db - states[n]) * _NEPER_PER_DB)
        if channels == 2:  # unrolled
            out[n, 0], out[n, 1] = block[n, 0] * gain, block[n, 1] * gain
        else:
            for ch in range(channels):
                out[n, ch] = block[n, ch] * gain
    return state


class Compressor:
    """The compressor as a stream: `process` takes consecutive blocks (multiples of BLOCK_FRAMES frames, the
    last may be shorter), carrying the ballistics and the side-chain filter across them, so a track compressed
    block by block is bit-identical to `compress` on the whole track (which cuts the same pieces).

    The detector (optionally through a 12 dB/oct RBJ high-pass at sidechain_highpass_hz, detector only)
    is the per-sample peak over channels in dB; gain = static curve smoothed by attack/release, + makeup_db.
    """

    def __init__(self, sample_rate_hz: float, channels: int, threshold_db: float, ratio: float,
                 knee_db: float = 6.0, attack_ms: float = 10.0, release_ms: float = 100.0, makeup_db: float = 0.0,
                 sidechain_highpass_hz: float | None = None) -> None:
        rate = check_sample_rate(sample_rate_hz)
        self.threshold = check_number(threshold_db, "threshold_db")
        self.reduction_per_db = 1.0 - 1.0 / check_number(ratio, "ratio", ge=1.0, finite=False)  # inf: a limiter
        self.knee = check_number(knee_db, "knee_db", ge=0.0)
        self.attack = time_coefficient(check_number(attack_ms, "attack_ms", gt=0.0), rate)
        self.release = time_coefficient(check_number(release_ms, "release_ms", gt=0.0), rate)
        self.makeup = check_number(makeup_db, "makeup_db")
        self.sidechain = None if sidechain_highpass_hz is None else band_sos("highpass", sidechain_highpass_hz, rate)
        self.sidechain_state = None if self.sidechain is None else initial_state(self.sidechain, channels)
        # Under knee_floor a level's curve is 0 whatever its log: over + W/2 <= 0 with a margin (1e-6, ~1e-5 dB)
        # far above the rounding of log, scaling and sums (~1e-12 dB), so only the louder levels need numpy's log.
        self.knee_floor = 10.0 ** (min(self.threshold - 0.5 * self.knee, 6000.0) / 20.0) * (1.0 - 1e-6)
        self.state = 0.0
        self._level, self._loud, self._states = np.empty(BLOCK_FRAMES), np.empty(BLOCK_FRAMES), np.empty(BLOCK_FRAMES)

    def process(self, block: np.ndarray) -> np.ndarray:
        """The next frames, compressed: a new float64 array. Taken BLOCK_FRAMES at a time from the stream's
        start whatever the caller's blocks, so any cut of a track into consecutive multiples of BLOCK_FRAMES
        gives the same samples."""
        out = np.empty(block.shape, dtype=np.float64)
        for start in range(0, block.shape[0], BLOCK_FRAMES):
            piece = block[start:start + BLOCK_FRAMES]
            frames = piece.shape[0]
            detector = piece if self.sidechain is None else sosfilt(self.sidechain, piece, self.sidechain_state)
            level = self._level[:frames]
            log_loud = self._loud[: _peak_level(detector, self.knee_floor, level, self._loud)]
            np.log(log_loud, out=log_loud)  # numpy's log, as ever: its SIMD variants are not libm's, bit for bit
            self.state = _ballistics_and_gain(level, self.knee_floor, log_loud, self.threshold, self.knee,
                                              self.reduction_per_db, self.state, self.attack, self.release,
                                              self.makeup, piece, self._states, out[start:start + frames])
        return out


def compress(audio: np.ndarray, sample_rate_hz: float, threshold_db: float, ratio: float, knee_db: float = 6.0,
             attack_ms: float = 10.0, release_ms: float = 100.0, makeup_db: float = 0.0,
             sidechain_highpass_hz: float | None = None) -> np.ndarray:
    """Compress (frames, channels) audio with one stereo-linked gain (see `Compressor`); a new float64 array."""
    check_audio(audio)
    stream = Compressor(sample_rate_hz, audio.shape[1], threshold_db, ratio, knee_db, attack_ms, release_ms,
                        makeup_db, sidechain_highpass_hz)
    return stream.process(audio)
