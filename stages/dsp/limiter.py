"""Look-ahead true-peak limiter (the detector is the BS.1770-4 Annex 2 true-peak envelope).

The gain is computed offline as a non-causal curve, which is what a look-ahead
limiter with its audio delayed by the look-ahead and trimmed back computes: the
output is time-aligned with the input and has the same frames. Per chunk of frames
that stays in cache: sliding minimum (hold), moving average (attack ramp), and the
release recursion GR[n] = max(GR_target[n], c * GR[n-1]) solved exactly as a
running maximum in the log domain. The hold and attack are compiled loops that
repeat, operation for operation, scipy.ndimage's minimum_filter1d and
uniform_filter1d (the running sum's rounding included); the logs and exps stay
numpy's, so the gain is the same, bit for bit, as the scipy/numpy formulation
the tests keep as the reference.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from numba import njit

from mixbuild.stages.dsp.checks import check_audio, check_number, check_sample_rate
from mixbuild.stages.dsp.pages import drop_pages, walk
from mixbuild.stages.dsp.truepeak import INTERPOLATOR_HALF_TAPS, TruePeakFollower, true_peak_envelope

#: The gain aims this far under the ceiling: a time-varying gain lets the reconstructed
#: waveform exceed the sample-wise bound by a few hundredths of a dB.
SAFETY_MARGIN_DB = 0.05
#: A release tail under this reduction (1e-6 dB, in nepers) ends; the attack curve still bounds the gain.
RELEASE_FLOOR_NEPER = 1e-6 * np.log(10.0) / 20.0
_LOG_RELEASE_FLOOR = float(np.log(RELEASE_FLOOR_NEPER))
_TINY = float(np.finfo(np.float64).tiny)
#: Frames per chunk; each chunk's running sums start afresh, so this is part of what the limiter computes.
_CHUNK_FRAMES = 1 << 15
#: Margin of the test that skips a frame's logs, and the frames one threshold serves (see _candidates).
_SKIP_MARGIN = 1e-9
_RUN_FRAMES = 128
#: Measure -> re-limit passes at most; each further pass doubles the margin.
MAX_PASSES = 4
#: Where every pass missed, the static trim's margin under the ceiling, times 10 each time it misses: the meter's
#: float32 transforms are linear only to about 1e-7 (a 1e-9 margin left 2.7e-7 overs).
STATIC_TRIM = 1e-6
#: Frames per flag of where a pass's gain was not exactly 1 (its re-measure skips the FFTs elsewhere).
_TILE_FRAMES = 256


@njit(cache=True, nogil=True, error_model="numpy")
def _attack_chunk(envelope: np.ndarray, start: int, n: int, target: float,  # pragma: no cover - compiled
                  lookahead: int, hold: int, scratch: np.ndarray, attack: np.ndarray) -> bool:
    # attack[:n] for frames [start, start + n); returns whether it is 1.0 throughout. Works on the chunk
    # with `before` frames of context each side (the signal's first and last frames repeated past its edges,
    # scipy's mode 'nearest'), as scipy did on the same context array.
    frames = envelope.shape[0]
    before = lookahead + hold
    m = n + 2 * before
    lo = start - before
    required, prefix, suffix = scratch[0], scratch[1], scratch[2]
    # required = np.minimum(target / envelope, 1.0) (target / 0 = inf); a contiguous loop inside the signal
    j0, j1 = min(max(0, -lo), m), max(min(m, frames - lo), 0)
    for j in range(j0):
        r = target / envelope[0]
        required[j] = 1.0 if r > 1.0 else r
    inside = envelope[lo + j0 : lo + j1]
    for j in range(j1 - j0):
        r = target / inside[j]
        required[j0 + j] = 1.0 if r > 1.0 else r
    for j in range(j1, m):
        r = target / envelope[frames - 1]
        required[j] = 1.0 if r > 1.0 else r
    # hold: held[i] = min(required[max(i - hold, 0) : i + lookahead + hold + 1]) for i < before + n, by van
    # Herk / Gil-Werman: prefix and suffix minima within blocks of the window's width (exact: a min is a min).
    width = lookahead + 2 * hold + 1
    for b0 in range(0, m, width):
        b1 = min(b0 + width, m)
        v, w = required[b0], required[b1 - 1]
        for t in range(b1 - b0):  # both scans in one loop: two independent dependency chains
            r, q = required[b0 + t], required[b1 - 1 - t]
            v = r if r < v else v
            w = q if q < w else w
            prefix[b0 + t] = v
            suffix[b1 - 1 - t] = w
    held = required  # required is not read again: held[i] goes where required[i] was
    for i in range(min(hold, before + n)):  # windows cut by the chunk's start: prefixes
        held[i] = prefix[i + width - 1 - hold]
    # attack: uniform_filter1d(held, lookahead + 1, origin=lookahead - (lookahead + 1) // 2), the mean of
    # held[i - lookahead : i + 1] with held[0] repeated on the left, as scipy (>= 1.11) computes it: a running
    # sum, the first window's summed in order, then per frame plus (entering - leaving); each mean sum / size.
    # The sums wait on one another: the hold's last minima are taken in the same loop, in their shadow.
    size = lookahead + 1
    if hold == 0:
        held[0] = min(suffix[0], prefix[width - 1])
    total = 0.0
    for _ in range(size):
        total += held[0]
    sums = prefix  # prefix[i] is read (as prefix[j + lookahead + hold], j <= i) before sums[i] replaces it
    sums[0] = total
    for i in range(1, before + n):
        if i >= hold:
            first, last = suffix[i - hold], prefix[i - hold + width - 1]
            held[i] = first if first < last else last
        total += held[i] - held[max(i - size, 0)]
        sums[i] = total
    ones = 0
    for i in range(n):
        mean, h = sums[before + i] / size, held[before + i]
        a = mean if mean < h else h  # guard the last ulp of the running sum
        a = a if a > _TINY else _TINY  # a running sum of tiny gains can dip below 0
        attack[i] = a
        ones += a == 1.0
    return ones == n


@njit(cache=True, nogil=True)
def _candidates(attack: np.ndarray, ramp: np.ndarray, out: np.ndarray) -> int:  # pragma: no cover - compiled
    # Frames whose ln R_t[k] + ramp[k] (R_t = -ln attack) may reach the chunk's running maximum, in order, into
    # out; returns their count. Every other frame is below the maximum for certain, so that its logs are never
    # needed: attack 1 (ln R_t = -inf), or attack >= theta, theta = exp(-exp(T)) (1 + margin) with T the
    # maximum so far (estimated with libm's logs), less margins, less the ramp at the end of the run of
    # frames theta serves. The margins (1e-9) dwarf the few ulps between libm's and numpy's logs and exps
    # and the rounding of the sums; the maximum only grows, so theta stays valid through its run.
    count = 0
    estimate = -np.inf
    bits = attack.view(np.int64)
    theta_box = np.empty(1)
    theta_bits = theta_box.view(np.int64)
    for r0 in range(0, attack.shape[0], _RUN_FRAMES):
        r1 = min(r0 + _RUN_FRAMES, attack.shape[0])
        theta = math.exp(-math.exp(estimate - 2.0 * _SKIP_MARGIN - ramp[r1 - 1])) * (1.0 + _SKIP_MARGIN)
        theta_box[0] = theta
        # Most runs have no candidate at all: their lowest attack is >= theta. Positive floats order as their
        # bit patterns do, and an integer minimum vectorises.
        lowest = bits[r0]
        for k in range(r0 + 1, r1):
            b = bits[k]
            lowest = b if b < lowest else lowest
        if lowest >= theta_bits[0]:
            continue
        first = count
        for k in range(r0, r1):  # branch-free selection
            out[count] = k
            count += attack[k] < theta and attack[k] != 1.0
        for j in range(first, count):
            k = out[j]
            v = math.log(-math.log(attack[k])) + ramp[k]
            estimate = v if v > estimate else estimate
    return count


@njit(cache=True, nogil=True)
def _release_max(log_reduction: np.ndarray, candidates: np.ndarray, ramp: np.ndarray,  # pragma: no cover
                 carry: float, step: float, out: np.ndarray) -> float:
    # out = max(running max of (ln R_t + ramp), carry) - ramp, where ln R_t of candidates[j] is log_reduction[j]
    # and no other frame reaches the maximum; returns the next chunk's carry.
    acc = -np.inf
    n = out.shape[0]
    for j in range(candidates.shape[0] + 1):
        # frames up to the next candidate: the maximum holds, out is y - ramp (a loop that vectorises)
        stop = candidates[j] if j < candidates.shape[0] else n
        i0 = candidates[j - 1] + 1 if j > 0 else 0
        y = acc if acc > carry else carry
        for i in range(i0, stop):
            out[i] = y - ramp[i]
        if stop < n:
            v = log_reduction[j] + ramp[stop]
            acc = v if v > acc else acc
            y = acc if acc > carry else carry
            out[stop] = y - ramp[stop]
    return out[n - 1] - step


@njit(cache=True, nogil=True)
def _end_tail(chunk: np.ndarray) -> None:  # pragma: no cover - compiled
    # -R, with R under the floor ended (0): far from overs the gain is exactly exp(-0) = 1.
    for i in range(chunk.shape[0]):
        v = chunk[i]
        chunk[i] = -(0.0 if v < RELEASE_FLOOR_NEPER else v)


@njit(cache=True, nogil=True)
def _apply_gain(source: np.ndarray, out: np.ndarray, start: int, release: np.ndarray,  # pragma: no cover
                attack: np.ndarray) -> tuple[float, int, int]:
    # out[start + i] = source[start + i] (as float64) * min(release[i], attack[i]), every channel (an empty
    # attack: a gain of 1, a copy); source may be out. Returns the max |out| over those frames, as stored (a
    # float32 out: rounded), and the first and last i whose gain is not exactly 1 (-1, -1 where none is).
    n, channels = release.shape[0], out.shape[1]
    src, dst = source[start : start + n], out[start : start + n]
    peak = 0.0
    first, last = -1, -1
    for i in range(n):
        g = 1.0
        if attack.shape[0]:
            r, a = release[i], attack[i]
            g = r if r < a else a
            if g != 1.0:
                first = i if first < 0 else first
                last = i
        if channels == 2:  # unrolled: twice the general loop's speed
            dst[i, 0], dst[i, 1] = np.float64(src[i, 0]) * g, np.float64(src[i, 1]) * g
            m = max(abs(np.float64(dst[i, 0])), abs(np.float64(dst[i, 1])))  # as stored (float32: rounded)
        else:
            m = np.float64(0.0)
            for c in range(channels):
                dst[i, c] = np.float64(src[i, c]) * g
                m = max(m, abs(np.float64(dst[i, c])))
        peak = m if m > peak else peak
    return peak, first, last


def _gain_chunks(envelope: np.ndarray, target: float, lookahead_frames: int, hold_frames: int,
                 release_frames: float) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
    """(start, release, attack) per chunk of frames: the gain there is min(release, attack), elementwise, and
    keeps envelope*gain <= target over +-hold_frames of every frame; release is None where the gain is 1.

    Hold = sliding min of the required gain over [n - hold, n + lookahead + hold]; attack = moving average of
    that over [n - lookahead, n] (it reaches the required gain by frame n, never exceeds it); release = gain
    reduction in nepers (dB up to a factor) decaying with time constant release_frames. Edges repeat the
    first and last frames. The arrays are reused by the next chunk.
    """
    frames = envelope.shape[0]
    context = lookahead_frames + hold_frames
    scratch = np.empty((3, _CHUNK_FRAMES + 2 * context))
    attack_buffer, release_buffer = np.empty(_CHUNK_FRAMES), np.empty(_CHUNK_FRAMES)
    candidate_buffer = np.empty(_CHUNK_FRAMES, dtype=np.intp)
    ramp = np.arange(_CHUNK_FRAMES, dtype=np.float64) / release_frames
    step = 1.0 / release_frames
    carry = -np.inf
    for start in range(0, frames, _CHUNK_FRAMES):
        n = min(frames - start, _CHUNK_FRAMES)
        attack, chunk = attack_buffer[:n], release_buffer[:n]
        if _attack_chunk(envelope, start, n, target, lookahead_frames, hold_frames, scratch, attack) \
                and carry < _LOG_RELEASE_FLOOR:
            carry = -np.inf  # nothing to limit and no release tail: skip the transcendental work
            yield start, chunk, None
            continue
        # release: R[n] = max(R_t[n], c R[n-1]) with R = -ln(gain) >= 0 and c = exp(-1/release_frames).
        # In logs a running maximum: ln R[n] = max_{k<=n}(ln R_t[k] + k/release) - n/release; the chunk
        # starts from the carried ln R of the previous chunk's last frame.
        # Only the frames that may set the running maximum need their logs (about 1 in 20 in loud music):
        # the others' ln R_t + ramp are below it for certain (see _candidates).
        candidates = candidate_buffer[: _candidates(attack, ramp, candidate_buffer)]
        log_reduction = np.log(attack[candidates])
        np.negative(log_reduction, out=log_reduction)
        np.log(log_reduction, out=log_reduction)  # > 0: candidates have attack < 1
        carry = _release_max(log_reduction, candidates, ramp, carry, step, chunk)
        np.exp(chunk, out=chunk)
        _end_tail(chunk)
        np.exp(chunk, out=chunk)
        yield start, chunk, attack


def true_peak_limit(
    audio: np.ndarray,
    sample_rate_hz: float,
    ceiling_dbtp: float = -1.0,
    release_ms: float = 100.0,
    lookahead_ms: float = 5.0,
    in_place: bool = False,
    envelope: np.ndarray | None = None,
) -> np.ndarray:
    """Limit the true peak (BS.1770-4 Annex 2) to ceiling_dbtp with a look-ahead limiter; float64, same frames.

    A signal already at or under the ceiling is returned unchanged (a float64 copy). Aims 0.05 dB under the
    ceiling, re-measures and re-limits the output (at most MAX_PASSES passes, then a static trim), so our
    meter never reads over the ceiling. `in_place`: a writeable float32 or float64 `audio` is limited in place
    and returned, in its own type (each chunk is read, then written, and the meter reads only finished frames,
    as stored: float32 samples are measured as rounded), saving a song-length array. `envelope`: a (frames,)
    float64 or float32 array to hold the detector in (float32 is exact for float32 audio; a file-backed map,
    with a mapped `audio`, keeps a long song off the heap: each pass drops the pages it is done with).
    """
    check_audio(audio)
    rate = check_sample_rate(sample_rate_hz)
    ceiling_dbtp = check_number(ceiling_dbtp, "ceiling_dbtp", ge=-60.0, le=0.0)
    release_ms = check_number(release_ms, "release_ms", ge=1.0, le=10_000.0)
    lookahead_ms = check_number(lookahead_ms, "lookahead_ms", ge=0.5, le=50.0)
    if audio.shape[0] == 0 or audio.dtype not in (np.float32, np.float64):
        audio = np.array(audio, dtype=np.float64)  # float16, longdouble: limited as their float64 copy
    in_place = in_place and audio.flags.writeable  # float32 or float64 by now
    if envelope is not None and envelope.dtype != np.float64 and not (in_place and audio.dtype == envelope.dtype):
        raise ValueError(f"envelope: must be float64, or float32 for float32 audio limited in place (got "
                         f"{envelope.dtype} for {audio.dtype} audio): a rounded detector could pass overs")
    ceiling = 10.0 ** (ceiling_dbtp / 20.0)
    envelope = true_peak_envelope(audio, rate, out=envelope, check=False)  # checked above
    peak = float(np.max([block.max() for _, block in walk(envelope)])) if audio.shape[0] else 0.0  # NaN stays
    if peak <= ceiling:
        return audio if in_place else np.array(audio, dtype=np.float64, copy=True)
    lookahead_frames = max(1, int(round(lookahead_ms * rate / 1000.0)))
    release_frames = release_ms * rate / 1000.0
    hold_frames = INTERPOLATOR_HALF_TAPS + 1
    context = lookahead_frames + hold_frames  # frames of envelope a chunk reads each side
    out = audio if in_place else np.empty(audio.shape, dtype=np.float64)
    source = audio  # the first pass reads the input (its float64 copy is the gain's work), later ones out
    no_gain = np.empty(0)
    margin_db = SAFETY_MARGIN_DB
    changed = np.zeros(audio.shape[0] // _TILE_FRAMES + 1, dtype=np.bool_)  # per tile: a gain not exactly 1

    def unchanged(first: int, stop: int) -> bool:
        """Whether this pass left frames [first, stop) as its source had them (no gain but exactly 1)."""
        return not changed[first // _TILE_FRAMES : (stop - 1) // _TILE_FRAMES + 1].any()

    for limit_pass in range(MAX_PASSES):
        if peak <= ceiling:
            break
        target = ceiling * 10.0 ** (-margin_db / 20.0)
        # One pass over the signal: each chunk's gain is applied, and the output re-measured, while in cache;
        # where the gain was exactly 1, the output is the source, whose envelope this pass was given.
        changed[:] = False
        follower = TruePeakFollower(out, rate, samples=False,  # the samples' peak comes with the gain
                                    known=(envelope, unchanged))
        sample_peak = 0.0
        for start, release, attack in _gain_chunks(envelope, target, lookahead_frames, hold_frames,
                                                   release_frames):
            if attack is not None or source is not out:
                chunk_peak, first, last = _apply_gain(source, out, start, release,
                                                      no_gain if attack is None else attack)
                if first >= 0:
                    changed[(start + first) // _TILE_FRAMES : (start + last) // _TILE_FRAMES + 1] = True
            else:  # a gain of 1 on out: nothing to do but measure
                chunk_peak = float(np.abs(out[start : start + release.shape[0]]).max())
            sample_peak = max(sample_peak, chunk_peak)
            follower.advance(start + release.shape[0])  # it drops out's pages it has measured
            drop_pages(envelope, start + release.shape[0] - context, start - context)  # the next chunk's reach
            if source is not out:
                drop_pages(source, start + release.shape[0], start)
        peak = follower.peak()
        peak = peak if math.isnan(peak) else max(peak, sample_peak)
        source = out
        margin_db *= 2.0
        if not peak <= ceiling and limit_pass + 1 < MAX_PASSES:
            true_peak_envelope(out, rate, out=envelope, check=False)  # the next pass limits this output
    trim = STATIC_TRIM
    for _ in range(MAX_PASSES):  # last resort, rarely met: a static gain, computed in float64, re-measured
        if not peak > ceiling:
            break
        np.multiply(out, np.float64(ceiling / peak * (1.0 - trim)), out=out, casting="same_kind")
        peak = TruePeakFollower(out, rate).peak()
        trim *= 10.0
    return out
