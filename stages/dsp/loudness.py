"""Loudness metering per ITU-R BS.1770-4, EBU Tech 3341 (EBU Mode) and EBU Tech 3342 (LRA).

All measures derive from one array: the cumulative sum of the channel-weighted
squared K-weighted samples (float64). A block's mean square is then a difference
of two entries, so 400 ms blocks on a 100 ms grid (integrated loudness), on a
10 ms grid (momentary/short-term maxima, Tech 3341 cases 10-14) or 3 s blocks
(LRA) cost one subtraction each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from mixbuild.stages.dsp.checks import check_audio, check_number, check_sample_rate
from mixbuild.stages.dsp.iir import initial_state, sosfilt
from mixbuild.stages.dsp.pages import drop_pages
from mixbuild.stages.dsp.truepeak import sample_peak_dbfs, true_peak_dbtp

#: BS.1770-4 eq. 2: loudness offset so that a 997 Hz sine at -23 dBFS on one channel reads about -23 LKFS.
LOUDNESS_OFFSET_DB = -0.691
#: BS.1770-4 §2.8: absolute gate.
ABSOLUTE_GATE_LUFS = -70.0
#: BS.1770-4 §2.8: relative gate for integrated loudness, below the abs-gated loudness.
RELATIVE_GATE_LU = -10.0
#: EBU Tech 3342 §3: relative gate for the loudness range.
LRA_RELATIVE_GATE_LU = -20.0
#: EBU Tech 3342 §3: percentiles of the gated short-term distribution.
LRA_LOW_PERCENTILE = 10.0
LRA_HIGH_PERCENTILE = 95.0
#: BS.1770-4 §2.8 gating block and Tech 3341 momentary window: 400 ms.
MOMENTARY_S = 0.4
#: Tech 3341 §2.1 short-term window, also the Tech 3342 block: 3 s.
SHORT_TERM_S = 3.0
#: Step of the gating blocks (75 % overlap, BS.1770-4 §2.8) and of the LRA blocks (Tech 3342: 10 Hz).
GATING_STEP_S = 0.1
#: Grid of the momentary/short-term series whose maxima measure() reports: 10 ms (a 100 ms grid fails
#: Tech 3341 case 13).
SERIES_STEP_S = 0.01

# Analog prototype of the K-weighting (BS.1770-4 Annex 1), in the parametrisation of
# libebur128 whose bilinear transform with prewarping reproduces the ITU 48 kHz table to 1e-15.
_SHELF_F0_HZ = 1681.974450955533
_SHELF_GAIN_DB = 3.999843853973347
_SHELF_Q = 0.7071752369554196
_SHELF_VB_EXPONENT = 0.4996667741545416
_HIGHPASS_F0_HZ = 38.13547087602444
_HIGHPASS_Q = 0.5003270373238773

_FILTER_BLOCK_FRAMES = 1 << 16


def k_weighting_sos(sample_rate_hz: float) -> np.ndarray:
    """K-weighting as second-order sections, shape (2, 6): shelf then RLB high-pass (BS.1770-4 Annex 1).

    Derived for any rate by bilinear transform with prewarping; at 48 kHz it equals the ITU table.
    """
    rate = check_sample_rate(sample_rate_hz)
    k = math.tan(math.pi * _SHELF_F0_HZ / rate)
    vh = 10.0 ** (_SHELF_GAIN_DB / 20.0)
    vb = vh**_SHELF_VB_EXPONENT
    a0 = 1.0 + k / _SHELF_Q + k * k
    shelf = [
        (vh + vb * k / _SHELF_Q + k * k) / a0,
        2.0 * (k * k - vh) / a0,
        (vh - vb * k / _SHELF_Q + k * k) / a0,
        1.0,
        2.0 * (k * k - 1.0) / a0,
        (1.0 - k / _SHELF_Q + k * k) / a0,
    ]
    k = math.tan(math.pi * _HIGHPASS_F0_HZ / rate)
    a0 = _highpass_a0(rate)
    # BS.1770-4 table 2 keeps the numerator (1, -2, 1) un-normalised: a passband gain of a0(48 kHz),
    # +0.043 dB, that the -0.691 offset absorbs. Keep that same gain at every rate, so that a tone
    # reads the same at 44.1 or 96 kHz (the factor is exactly 1.0 at 48 kHz).
    passband = _highpass_a0(48_000.0) / a0
    highpass = [passband, -2.0 * passband, passband, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / _HIGHPASS_Q + k * k) / a0]
    return np.array([shelf, highpass])


def _highpass_a0(sample_rate_hz: float) -> float:
    k = math.tan(math.pi * _HIGHPASS_F0_HZ / sample_rate_hz)
    return 1.0 + k / _HIGHPASS_Q + k * k


def channel_weights(channels: int) -> np.ndarray:
    """BS.1770-4 table 3 weights G_i: 1.0 for L, R, C; 1.41 for Ls, Rs; 0 for LFE (5.1 order L R C LFE Ls Rs)."""
    check_number(channels, "channels", ge=1, integer=True)
    if channels == 5:  # 5.0: L R C Ls Rs
        return np.array([1.0, 1.0, 1.0, 1.41, 1.41])
    if channels == 6:  # 5.1: L R C LFE Ls Rs
        return np.array([1.0, 1.0, 1.0, 0.0, 1.41, 1.41])
    return np.ones(channels)


class _Cumsum:
    """The cumulative sum (a leading 0, then one value per frame) of sum_i G_i * z_i[n]^2 over the K-weighted
    channels (BS.1770-4 eq. 1-2), kept only at the frames some block series read: computed block by block
    with the running sum carried into each block's cumsum, the same additions in the same order as one
    cumsum over the whole programme, without its (frames + 1) float64 array."""

    def __init__(self, audio: np.ndarray, sample_rate_hz: float, indices: np.ndarray, check: bool = True) -> None:
        if check:
            check_audio(audio)
        self.indices = np.unique(indices)
        self.values = np.zeros(self.indices.shape[0])
        sos = k_weighting_sos(sample_rate_hz)
        frames, channels = audio.shape
        weights = channel_weights(channels)
        state = initial_state(sos, channels)
        carry = 0.0
        for start in range(0, frames, _FILTER_BLOCK_FRAMES):
            stop = min(frames, start + _FILTER_BLOCK_FRAMES)
            y = sosfilt(sos, audio[start:stop], state)
            np.square(y, out=y)
            running = np.empty(stop - start + 1)
            running[0] = carry  # the sum up to frame `start`
            power = running[1:]
            np.multiply(y[:, 0], weights[0], out=power)
            for ch in range(1, channels):  # column adds: 3x faster than a sum over the short axis
                y[:, ch] *= weights[ch]  # G_i; LFE (weight 0) drops out
                power += y[:, ch]
            np.cumsum(running, out=running)
            lo, hi = np.searchsorted(self.indices, [start + 1, stop + 1])
            self.values[lo:hi] = running[self.indices[lo:hi] - start]
            carry = float(running[-1])
            drop_pages(audio, stop, start)

    def at(self, frames: np.ndarray) -> np.ndarray:
        """The cumsum at these frames (each one of the indices it was made for)."""
        return self.values[np.searchsorted(self.indices, frames)]


def _block_lengths(sample_rate_hz: float, block_s: float, step_s: float) -> tuple[int, int]:
    block_s = check_number(block_s, "block_s", gt=0.0)
    step_s = check_number(step_s, "step_s", gt=0.0)
    rate = check_sample_rate(sample_rate_hz)
    block = int(round(block_s * rate))
    step = int(round(step_s * rate))
    if block < 1 or step < 1:
        raise ValueError(f"block_s, step_s: must each span >= 1 sample at {rate:g} Hz (got {block_s}, {step_s})")
    return block, step


def _block_starts(frames: int, block: int, step: int) -> np.ndarray:
    """First frames of the whole blocks (a partial final block is dropped)."""
    return np.arange(0, frames - block + 1, step) if frames >= block else np.zeros(0, dtype=np.int64)


def _powers(cumsum: _Cumsum, frames: int, block: int, step: int) -> np.ndarray:
    starts = _block_starts(frames, block, step)
    powers = (cumsum.at(starts + block) - cumsum.at(starts)) / block
    np.maximum(powers, 0.0, out=powers)
    return powers


def _reads(frames: int, block: int, step: int) -> list[np.ndarray]:
    """The cumsum frames a block series reads."""
    starts = _block_starts(frames, block, step)
    return [starts, starts + block]


def block_powers(audio: np.ndarray, sample_rate_hz: float, block_s: float = MOMENTARY_S,
                 step_s: float = GATING_STEP_S, check: bool = True) -> np.ndarray:
    """Channel-weighted mean square of K-weighted audio per block (BS.1770-4 eq. 1-2), shape (blocks,).

    Blocks are round(block_s*fs) samples starting every round(step_s*fs); a partial final block is dropped.
    `check=False`: audio known finite (a stored render) is not read a first time to check it.
    """
    block, step = _block_lengths(sample_rate_hz, block_s, step_s)
    frames = (check_audio(audio) if check else audio).shape[0]
    return _powers(_Cumsum(audio, sample_rate_hz, np.concatenate(_reads(frames, block, step)), check=False),
                   frames, block, step)


def power_to_lufs(powers: np.ndarray) -> np.ndarray:
    """Loudness of channel-weighted mean squares, L = -0.691 + 10 log10(power) (BS.1770-4 eq. 2); 0 -> -inf."""
    with np.errstate(divide="ignore"):
        return LOUDNESS_OFFSET_DB + 10.0 * np.log10(np.asarray(powers, dtype=np.float64))


def gated_loudness_lufs(powers: np.ndarray) -> float:
    """Gated loudness of 400 ms block powers (BS.1770-4 eq. 3-7): -70 LUFS absolute, -10 LU relative gate.

    Blocks pass a gate when strictly above it; -inf when none pass (silence, input shorter than a block).
    Concatenating the block powers of several songs gives the album's integrated loudness.
    """
    powers = np.asarray(powers, dtype=np.float64).ravel()
    loudness = power_to_lufs(powers)
    above_absolute = powers[loudness > ABSOLUTE_GATE_LUFS]
    if above_absolute.size == 0:
        return float("-inf")
    relative_gate = float(power_to_lufs(above_absolute.mean())) + RELATIVE_GATE_LU
    gated = powers[(loudness > ABSOLUTE_GATE_LUFS) & (loudness > relative_gate)]
    if gated.size == 0:
        return float("-inf")
    return float(power_to_lufs(gated.mean()))


def integrated_lufs(audio: np.ndarray, sample_rate_hz: float) -> float:
    """Integrated (programme) loudness in LUFS (BS.1770-4 §2.8; 400 ms blocks, 75 % overlap); -inf for silence."""
    return gated_loudness_lufs(block_powers(audio, sample_rate_hz, MOMENTARY_S, GATING_STEP_S))


def loudness_range_from_powers(short_term_powers: np.ndarray) -> float:
    """LRA in LU from 3 s block powers (Tech 3342 §3): gates -70 LUFS and -20 LU, 95th minus 10th percentile.

    0.0 when no block passes the gates (silence, input shorter than 3 s).
    """
    powers = np.asarray(short_term_powers, dtype=np.float64).ravel()
    loudness = power_to_lufs(powers)
    above_absolute = loudness > ABSOLUTE_GATE_LUFS
    if not above_absolute.any():
        return 0.0
    relative_gate = float(power_to_lufs(powers[above_absolute].mean())) + LRA_RELATIVE_GATE_LU
    gated = loudness[above_absolute & (loudness > relative_gate)]
    if gated.size == 0:
        return 0.0
    low, high = np.percentile(gated, [LRA_LOW_PERCENTILE, LRA_HIGH_PERCENTILE])
    return float(high - low)


@dataclass(frozen=True)
class LoudnessReport:
    """EBU Mode figures of one programme (Tech 3341): LUFS, LU, dBTP and dBFS; -inf where undefined."""

    integrated_lufs: float
    momentary_max_lufs: float
    short_term_max_lufs: float
    lra_lu: float
    true_peak_dbtp: float
    sample_peak_dbfs: float
    segment_energies: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0))
    """Channel-weighted K-weighted energy of each 100 ms gating step (the last one partial): what
    `sequence_loudness` assembles a sequence of programmes' loudness from."""


def _max_lufs(powers: np.ndarray) -> float:
    return float(power_to_lufs(powers.max())) if powers.size else float("-inf")


def measure(audio: np.ndarray, sample_rate_hz: float, true_peak: bool = True) -> LoudnessReport:
    """All EBU Mode figures in one pass of the K-weighting (BS.1770-4, Tech 3341, Tech 3342).

    Silence gives -inf LUFS and peaks; shorter than 400 ms gives integrated -inf; NaN/Inf raise ValueError.
    true_peak=False skips the oversampling (true_peak_dbtp is then NaN) for a caller that knows it already.
    """
    rate = check_sample_rate(sample_rate_hz)
    check_audio(audio)  # once, for every figure below
    frames = audio.shape[0]
    series = [_block_lengths(rate, block_s, step_s) for block_s, step_s in (
        (MOMENTARY_S, SERIES_STEP_S), (SHORT_TERM_S, SERIES_STEP_S), (MOMENTARY_S, GATING_STEP_S),
        (SHORT_TERM_S, GATING_STEP_S))]
    step = series[2][1]
    edges = np.append(np.arange(0, frames, step), frames)  # the 100 ms segments' bounds
    cumsum = _Cumsum(audio, rate, np.concatenate([edges, *(r for s in series for r in _reads(frames, *s))]),
                     check=False)
    momentary, short_term, gating_blocks, lra_blocks = (_powers(cumsum, frames, *s) for s in series)
    return LoudnessReport(
        integrated_lufs=gated_loudness_lufs(gating_blocks),
        momentary_max_lufs=_max_lufs(momentary),
        short_term_max_lufs=_max_lufs(short_term),
        lra_lu=loudness_range_from_powers(lra_blocks),
        true_peak_dbtp=true_peak_dbtp(audio, rate, check=False) if true_peak else float("nan"),
        sample_peak_dbfs=sample_peak_dbfs(audio, check=False),
        segment_energies=np.diff(cumsum.at(edges)),
    )


def sequence_loudness(starts: list[int], energies: list[np.ndarray], frames: int,
                      sample_rate_hz: float) -> tuple[float, float]:
    """Integrated loudness (LUFS) and LRA (LU) of programmes sequenced in one file of `frames` frames
    (silence elsewhere), from each one's `segment_energies` and start frame, without their samples.

    Every 400 ms and 3 s block is a whole number of 100 ms steps, so the file's blocks are sums of the
    programmes' step energies placed on the file's grid. A start off that grid moves its programme by
    under half a step; the K-weighting restarts at each programme (its memory of the one before, across
    silence, is far below the gates): against a measurement of the file, within 0.03 LU for 5 s songs
    and under 0.01 LU for songs of a minute or more, LRA within 0.05 LU (see the tests).
    """
    gating_block, step = _block_lengths(sample_rate_hz, MOMENTARY_S, GATING_STEP_S)
    lra_block, _ = _block_lengths(sample_rate_hz, SHORT_TERM_S, GATING_STEP_S)
    placed = np.zeros(frames // step + 1)
    for start, energy in zip(starts, energies):
        first = int(round(start / step))
        stop = min(placed.shape[0], first + len(energy))
        placed[first:stop] += np.asarray(energy, dtype=np.float64)[:stop - first]
    cumsum = np.concatenate([[0.0], np.cumsum(placed[:frames // step])])  # whole steps: the file's blocks
    results = []
    for block in (gating_block, lra_block):
        width = block // step
        if width * step != block:  # a rate whose blocks are not whole steps (none of the delivery rates)
            raise ValueError(f"sample_rate_hz: {sample_rate_hz:g} Hz has no 100 ms grid that 400 ms and 3 s "
                             "blocks are whole steps of")
        powers = (cumsum[width:] - cumsum[:-width]) / block if cumsum.shape[0] > width else np.zeros(0)
        results.append(np.maximum(powers, 0.0))
    return gated_loudness_lufs(results[0]), loudness_range_from_powers(results[1])
