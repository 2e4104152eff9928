"""True-peak and sample-peak metering (ITU-R BS.1770-4 Annex 2).

The signal is oversampled so that the effective rate is at least 176.4 kHz
(x4 at 44.1/48 kHz) with a Kaiser-windowed sinc interpolator, evaluated by FFT
in blocks of 8 k frames: cost does not grow with the filter length, memory
stays bounded, and the phase at the original sample instants is the samples
themselves (a Nyquist filter), so the true peak is never below the sample peak.
The FFTs run in float32: twice as fast as float64, and their relative error
(~1e-6, i.e. 1e-5 dB) is far below the 0.01 dB the meter reports and the
interpolator's own -80 dB images. Four blocks go to each FFT call, so that
pocketfft transforms whole SIMD batches of rows; a row's result does not depend
on the batch it is in, so the points are the same, bit for bit, as block by block.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from numba import njit
from scipy import fft as sfft

from mixbuild.stages.dsp.checks import check_audio, check_sample_rate
from mixbuild.stages.dsp.pages import drop_pages, walk

#: BS.1770-4 Annex 2: oversample so that the effective rate is >= 4 x 44.1 kHz.
MIN_OVERSAMPLED_RATE_HZ = 176_400.0
#: Interpolator half-length in input samples (2 x 32 taps per phase).
INTERPOLATOR_HALF_TAPS = 32
#: Kaiser beta of the interpolator: passband flat to ~0.46 fs, images below -80 dB.
INTERPOLATOR_KAISER_BETA = 8.0
_FFT_SIZE = 1 << 13
#: Input frames per FFT block: the rest of the block is the interpolator's overlap.
_STEP = _FFT_SIZE - 2 * INTERPOLATOR_HALF_TAPS
#: Blocks per FFT call: pocketfft transforms rows in SIMD batches of 4 (a lone row runs scalar code, about
#: 3x slower per row), and each row's result is the same whichever batch it is in.
_GROUP_BLOCKS = 4


def oversample_factor(sample_rate_hz: float) -> int:
    """Smallest power of two bringing the rate to >= 176.4 kHz (BS.1770-4 Annex 2: x4 at 48 kHz)."""
    rate = check_sample_rate(sample_rate_hz)
    factor = 1
    while rate * factor < MIN_OVERSAMPLED_RATE_HZ:
        factor *= 2
    return factor


@functools.lru_cache(maxsize=16)
def _interpolator_spectra(factor: int) -> np.ndarray:
    """rfft of the correlation kernels of phases 1..factor-1, shape (factor-1, nfft//2+1)."""
    half = INTERPOLATOR_HALF_TAPS
    offsets = np.arange(-(half - 1), half + 1)  # input samples n+k used for the point n + p/factor
    kernels = np.empty((factor - 1, 2 * half))
    for phase in range(1, factor):
        t = phase / factor - offsets  # distance from each input sample, in samples
        # Kaiser window evaluated at the continuous position t/half (|t| < half).
        window_t = np.i0(INTERPOLATOR_KAISER_BETA * np.sqrt(np.clip(1.0 - (t / half) ** 2, 0.0, None)))
        window_t /= np.i0(INTERPOLATOR_KAISER_BETA)
        kernels[phase - 1] = np.sinc(t) * window_t
    spectra = np.conj(sfft.rfft(kernels, _FFT_SIZE, axis=1)).astype(np.complex64)
    spectra.setflags(write=False)
    return spectra


def _group_blocks(frames: int) -> int:
    """Blocks per group (see _oversampled_groups) for a signal of `frames` frames."""
    return max(1, min(_GROUP_BLOCKS, -(-frames // _STEP)))


def _oversampled_groups(audio: np.ndarray, sample_rate_hz: float, envelope: np.ndarray | None = None,
                        known: Callable[[int, int], bool] | None = None) -> Iterator[tuple[int, np.ndarray | None]]:
    """Yield (start_frame, points) for groups of `_group_blocks` consecutive blocks of `_STEP` frames; factor > 1.

    points (blocks, rows, _FFT_SIZE) float32: block b holds frames start + b*_STEP + [0, _STEP) (fewer in the
    signal's last block) in its first columns; its rows are the interpolated (phase, channel) pairs, phases
    1..factor-1: ours to overwrite. A group reads audio frames [start - HALF + 1, start + blocks*_STEP + HALF)
    when it is asked for, not before. With `envelope`, also writes its samples' part (max |x| over channels,
    float64) for the group's frames. A group for which `known(first, stop)` is true, [first, stop) being the
    frames it reads, is not transformed: (start_frame, None).
    """
    assert known is None or envelope is None  # a skipped group writes no samples' part
    factor = oversample_factor(sample_rate_hz)
    frames, channels = audio.shape
    if audio.dtype not in (np.float32, np.float64):  # float16, longdouble: numpy's cast, as a float32 copy
        audio = audio.astype(np.float32)
    spectra = _interpolator_spectra(factor)[None, :, None, :]
    group = _group_blocks(frames)
    segments = np.empty((group, channels, _FFT_SIZE), dtype=np.float32)
    no_envelope = np.empty(0)
    products = np.empty((group, factor - 1, channels, _FFT_SIZE // 2 + 1), dtype=np.complex64)
    for start in range(0, frames, group * _STEP):
        blocks = min(group, -(-(frames - start) // _STEP))
        stop = start + blocks * _STEP  # the next group reads from stop - HALF + 1 on
        if known is not None and known(max(0, start - INTERPOLATOR_HALF_TAPS + 1),
                                       min(frames, stop + INTERPOLATOR_HALF_TAPS)):
            yield start, None
        else:
            _fill_segments(audio, start, segments[:blocks], no_envelope if envelope is None else envelope)
            spectrum = sfft.rfft(segments[:blocks], axis=-1)
            product = np.multiply(spectrum[:, None], spectra, out=products[:blocks])
            yield start, sfft.irfft(product, _FFT_SIZE, axis=-1, overwrite_x=True).reshape(blocks, -1, _FFT_SIZE)
        drop_pages(audio, stop - INTERPOLATOR_HALF_TAPS, start - INTERPOLATOR_HALF_TAPS)


@njit(cache=True, nogil=True)
def _fill_segments(audio: np.ndarray, start: int, segments: np.ndarray,  # pragma: no cover - compiled
                   envelope: np.ndarray) -> None:
    # Block b's segment: input frames [first - HALF + 1, first + STEP + HALF) in float32, channel-major so
    # the FFTs run along contiguous memory, zero outside the signal and in the last (padding) column. With a
    # non-empty envelope, also its samples' part (phase 0) for the blocks' own frames: max |x| over channels,
    # as float64, read in the same pass (finite samples: no NaN to propagate).
    frames, channels = audio.shape
    width = _STEP + 2 * INTERPOLATOR_HALF_TAPS - 1
    own = INTERPOLATOR_HALF_TAPS - 1  # column of the block's first frame
    for b in range(segments.shape[0]):
        lo = start + b * _STEP - own
        j0 = min(max(0, -lo), width)  # columns before the signal's first frame
        j1 = max(min(width, frames - lo), j0)  # and from its end on
        e0, e1 = (own, min(own + _STEP, j1)) if envelope.shape[0] else (j0, j0)
        if channels == 2:  # the common case: one sequential pass over the frames (2x the general loop)
            left, right = segments[b, 0], segments[b, 1]
            left[:j0] = 0.0
            right[:j0] = 0.0
            source, env = audio[lo + e0 : lo + e1], envelope[lo + e0 : lo + e1]
            for j in range(e1 - e0):
                u, v = source[j, 0], source[j, 1]
                left[e0 + j], right[e0 + j] = np.float32(u), np.float32(v)
                a, m = abs(np.float64(u)), abs(np.float64(v))
                env[j] = a if a > m else m
            for j0_, j1_ in ((j0, e0), (max(e1, j0), j1)):
                source = audio[lo + j0_ : lo + j1_]
                for j in range(j1_ - j0_):
                    left[j0_ + j], right[j0_ + j] = np.float32(source[j, 0]), np.float32(source[j, 1])
            left[j1:] = 0.0
            right[j1:] = 0.0
            continue
        for c in range(channels):
            row = segments[b, c]
            row[:j0] = 0.0
            for j in range(j0, e0):
                row[j] = np.float32(audio[lo + j, c])
            source, env = audio[lo + e0 : lo + e1, c], envelope[lo + e0 : lo + e1]
            if c == 0:
                for j in range(e1 - e0):
                    v = source[j]
                    row[e0 + j] = np.float32(v)
                    env[j] = abs(np.float64(v))
            else:
                for j in range(e1 - e0):
                    v = source[j]
                    row[e0 + j] = np.float32(v)
                    a, m = abs(np.float64(v)), env[j]
                    env[j] = a if a > m else m
            e1 = max(e1, j0)
            source = audio[lo + e1 : lo + j1, c]
            for j in range(j1 - e1):
                row[e1 + j] = np.float32(source[j])
            row[j1:] = 0.0


def _oversampled_blocks(audio: np.ndarray, sample_rate_hz: float) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield (start_frame, points, samples): the interpolated points (rows of (phase, channel) pairs, float32)
    and the samples themselves (phase 0: the input's (n, channels) block, exact) of consecutive blocks."""
    frames = audio.shape[0]
    if oversample_factor(sample_rate_hz) == 1:
        for start, block in walk(audio):
            yield start, np.empty((0, block.shape[0]), dtype=np.float32), block
        return
    for group_start, points in _oversampled_groups(audio, sample_rate_hz):
        assert points is not None  # nothing is known
        for b in range(points.shape[0]):
            start = group_start + b * _STEP
            stop = min(frames, start + _STEP)
            yield start, points[b, :, : stop - start], audio[start:stop]


def true_peak_envelope(audio: np.ndarray, sample_rate_hz: float, out: np.ndarray | None = None, *,
                       check: bool = True) -> np.ndarray:
    """Per input frame, the max |x| over channels of the oversampled signal on [n, n+1) (linear, shape (frames,)).

    The detector of the true-peak limiter; max() of it is the BS.1770-4 Annex 2 true peak. `out` (float64,
    (frames,)) receives it if given, so that a caller measuring again reuses its memory; check=False skips
    the audio check (a pass over the samples) for a caller that has checked it.
    """
    if check:
        check_audio(audio)
    if out is None:
        out = np.empty(audio.shape[0])
    frames = audio.shape[0]
    native = audio.dtype in (np.float32, np.float64)
    if oversample_factor(sample_rate_hz) == 1 or not native:  # the samples' part here, not with the segments
        samples = audio if native else audio.astype(np.float64)
        for start, block in walk(samples):
            _sample_envelope(block, out[start : start + block.shape[0]])
            drop_pages(out, start + block.shape[0], start)
        if oversample_factor(sample_rate_hz) == 1:
            return out
    rows_max = np.empty((_group_blocks(frames), _FFT_SIZE), dtype=np.float32)
    for start, points in _oversampled_groups(audio, sample_rate_hz, out if native else None):
        assert points is not None  # nothing is known
        # The samples' maximum (float64) came with the segments; then row-wise maxima (numpy's float32 SIMD;
        # it reduces a short axis 5-10x slower than it compares rows): every step exact, NaN-propagating.
        blocks = points.shape[0]
        np.abs(points, out=points)
        np.max(points, axis=1, out=rows_max[:blocks])
        env = out[start : min(frames, start + blocks * _STEP)]
        for b in range(blocks):
            block = env[b * _STEP : (b + 1) * _STEP]
            np.maximum(block, rows_max[b, : block.shape[0]], out=block)
        drop_pages(out, start + blocks * _STEP, start)
    return out


class TruePeakFollower:
    """The true peak (linear: the envelope's max; NaN if a point is) of audio written front to back.

    `advance(written)` once frames [0, written) of `audio` are final measures every FFT group that reads
    only those, while they are still in cache; `peak()` measures the rest. Same value as
    true_peak_envelope(audio).max(), without the envelope's array and pass.

    `known` = (envelope, unchanged): `envelope` is `true_peak_envelope` of a signal that `audio` equals, bit for
    bit, wherever `unchanged(first, stop)` says so for frames [first, stop). A group reading only such frames
    takes its peak from `envelope` instead of transforming them: the same points, as its transforms see the
    same samples (a limiter's output where its gain is exactly 1).
    """

    def __init__(self, audio: np.ndarray, sample_rate_hz: float, samples: bool = True,
                 known: tuple[np.ndarray, Callable[[int, int], bool]] | None = None) -> None:
        """samples=False may leave out phase 0, the samples themselves, for a caller that has their peak
        (a group taken from `known` includes them)."""
        self._audio = audio
        self._samples = samples
        self._frames = audio.shape[0]
        self._oversampled = oversample_factor(sample_rate_hz) > 1
        self._known_envelope = None if known is None else known[0]
        self._groups = _oversampled_groups(audio, sample_rate_hz, known=None if known is None else known[1]) \
            if self._oversampled else None
        self._group_frames = _group_blocks(self._frames) * _STEP if self._oversampled else 1 << 16
        self._next = 0  # first frame of the next group
        self._peak = 0.0
        self._nan = False

    def advance(self, written: int) -> None:
        """Frames [0, written) are final: measure every group that reads no later frame."""
        reach = INTERPOLATOR_HALF_TAPS if self._oversampled else 0  # frames a group reads past its own
        while self._next < self._frames and min(self._frames, self._next + self._group_frames + reach) <= written:
            self._measure_group()

    def peak(self) -> float:
        """Measure what is left (all frames are final) and return the true peak, linear."""
        self.advance(self._frames)
        return float("nan") if self._nan else self._peak

    def _measure_group(self) -> None:
        start = self._next
        stop = min(self._frames, start + self._group_frames)
        samples = self._audio[start:stop]
        values = [float(samples.max()), -float(samples.min())] if self._samples else []
        if self._groups is not None:
            _, points = next(self._groups)
            if points is None:  # frames equal to those `known` measured: their envelope's maximum
                assert self._known_envelope is not None
                values.append(float(self._known_envelope[start:stop].max()))
            else:
                points[:, :, _STEP:] = 0.0  # the FFT's wrap-around, not points: zero, which the peak ignores
                last = stop - start - (points.shape[0] - 1) * _STEP
                points[-1, :, last:] = 0.0  # past the signal's end
                values += [float(points.max()), -float(points.min())]  # contiguous reductions: no abs pass
        for value in values:
            self._nan |= value != value
            self._peak = max(self._peak, value)
        if self._groups is None:  # the groups drop their own pages
            drop_pages(self._audio, stop, start)
        self._next = stop


@njit(cache=True, nogil=True)
def _sample_envelope(samples: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    # out = max |sample| over channels, per frame, as float64 (finite samples: no NaN to propagate).
    frames, channels = samples.shape
    if channels == 2:  # the common case, unrolled: 1.5x the general loop
        for k in range(frames):
            a, b = abs(np.float64(samples[k, 0])), abs(np.float64(samples[k, 1]))
            out[k] = b if b > a else a
        return
    for k in range(frames):
        m = abs(np.float64(samples[k, 0]))
        for c in range(1, channels):
            v = abs(np.float64(samples[k, c]))
            m = v if v > m else m
        out[k] = m


def true_peak_dbtp(audio: np.ndarray, sample_rate_hz: float, *, check: bool = True) -> float:
    """Maximum true-peak level in dBTP over all channels (BS.1770-4 Annex 2); -inf for silence. check=False
    skips the audio check (a pass over the samples) for a caller that has checked it."""
    if check:
        check_audio(audio)
    peak = 0.0
    for _, points, samples in _oversampled_blocks(audio, sample_rate_hz):  # whole-block max: no envelope needed
        peak = max(peak, float(samples.max()), -float(samples.min()))
        if points.size:
            peak = max(peak, float(points.max()), -float(points.min()))
    return _amplitude_db(peak)


def sample_peak_dbfs(audio: np.ndarray, *, check: bool = True) -> float:
    """Maximum |sample| in dBFS over all channels; -inf for silence or no frames (check: as true_peak_dbtp)."""
    if check:
        check_audio(audio)
    if audio.size == 0:
        return float("-inf")
    peak = 0.0
    for _, block in walk(audio):
        peak = max(peak, float(block.max()), -float(block.min()))
    return _amplitude_db(peak)


def _amplitude_db(amplitude: float) -> float:
    return 20.0 * float(np.log10(amplitude)) if amplitude > 0.0 else float("-inf")


#: Frames between programmes for `sequence_true_peak_dbtp`: no interpolator window (64 frames) spans two.
MIN_SEQUENCE_GAP_FRAMES = 2 * INTERPOLATOR_HALF_TAPS


def edge_ringing(audio: np.ndarray, sample_rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """True-peak envelope (linear) of the INTERPOLATOR_HALF_TAPS frames just before and just after a
    programme set in silence: its pre- and post-ringing, which its own true peak leaves out. Only the frames
    it reads are checked (by the envelope), not the whole programme."""
    check_audio(audio[:0])  # shape and dtype
    half = INTERPOLATOR_HALF_TAPS
    silence = np.zeros((2 * half, audio.shape[1]), dtype=audio.dtype)
    first, last = audio[:half], audio[max(0, audio.shape[0] - half):]
    before = true_peak_envelope(np.concatenate([silence, first]), sample_rate_hz)[half:2 * half]
    after = true_peak_envelope(np.concatenate([last, silence]), sample_rate_hz)[last.shape[0]:last.shape[0] + half]
    return before, after


def sequence_true_peak_dbtp(spans: list[tuple[int, int]], frames: int, peaks: list[float],
                            ringing: list[tuple[Sequence[float], Sequence[float]]]) -> float:
    """True peak (dBTP) of programmes sequenced in a file of `frames` frames, silent outside `spans`
    ([start, stop), in order, >= MIN_SEQUENCE_GAP_FRAMES apart), from each one's own true peak (linear)
    and `edge_ringing`, without its samples.

    Inside a span every interpolator window sees only that programme and silence, exactly as when it was
    measured alone; the frames just outside it see its first or last samples and silence, exactly as
    `edge_ringing` evaluated them. Ringing before the file's first frame or after its last is not in it.
    """
    for (_, stop), (start, _) in zip(spans, spans[1:]):
        if start - stop < MIN_SEQUENCE_GAP_FRAMES:
            raise ValueError(f"spans: must be >= {MIN_SEQUENCE_GAP_FRAMES} frames apart (got {start - stop})")
    peak = max(peaks, default=0.0)
    for (start, stop), (before, after) in zip(spans, ringing):
        peak = max([peak, *before[len(before) - min(start, len(before)):], *after[:max(0, frames - stop)]])
    return _amplitude_db(peak)
