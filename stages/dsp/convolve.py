"""Streaming FFT convolution by uniformly partitioned overlap-save (a reverb's or an echo train's response).

The response is cut into K partitions of B taps, each transformed once (FFT size 2B). Every B input frames
are transformed once into a frequency-domain delay line, and each B output frames are the inverse transform
of sum_k X[t - k] H[k] (its second half: overlap-save). The transforms stay at most 128 k points whatever
the response's length; overlap-add of the whole response in transforms of 4x its length (480 k points for
a 2.5-s reverb) ran memory-bound at about twice the cost per frame (CPU time, 60 s of stereo, 2 cores here).
Input arrives in blocks of any length; the output is computed in the same B-frame steps whatever they are,
each bin summing the partitions in the same order, so a stream is bit-identical to one call on the whole
signal. Steps whose window is silent store no spectrum and are skipped in the sum (a vocal's rests). Each
channel's sum and inverse transform are its own (and its forward transform, where each channel has its own
feed; a reverb's one downmixed feed is transformed once, first), so where a core is idle (`side_by_side`) the
two halves of the channels run on two threads: 0.41 s instead of 0.52 s for 4 minutes of stereo through a
2.2-s reverb (medians of 7 alternating runs here), the same samples.

The transforms and the sum run in float32 (the response's spectra are taken in float64, then rounded), as
convolution reverbs do (pedalboard's, a DAW's): half the memory traffic, 0.49 s of CPU per 4 minutes of a
2.2-s reverb against 0.60-1.04 s in float64 (6 alternating runs here). The error against float64 is at most
2.6e-7 of the output's peak (a 2.2-s reverb of 4 minutes of noise): for a return peaking at -10 dBFS, 8e-8,
the size of a 24-bit file's own rounding (6e-8) and under its dither. The output is float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy import fft as sfft

from mixbuild.stages.ahead import side_by_side

#: Partition length B in frames: the response's length rounded up to a power of two, within these bounds
#: (shorter partitions mean more of them to sum per bin; longer, slower transforms). The maximum measured
#: best of 16 k, 32 k, 64 k and 128 k for a 2.5-s reverb: 0.20-0.27 s CPU per minute of stereo, against
#: 0.29-0.31 s at 32 k and 0.31-0.34 s at 16 k.
PARTITION_FRAMES_MIN = 1 << 8
PARTITION_FRAMES_MAX = 1 << 16
SAMPLE_DTYPE = np.float32
"""The type the input is transformed in."""
_SPECTRUM_DTYPE = np.result_type(SAMPLE_DTYPE, np.complex64)
ERROR_OF_PEAK = 1e-6
"""The bound on the error against an exact convolution, as a fraction of the output's peak: float32's 6e-8 times
log2 of the largest transform (17), rounded up; measured at most 2.6e-7 (see above)."""


def partition_frames(taps: int) -> int:
    """B for a response of `taps` taps."""
    frames = PARTITION_FRAMES_MIN
    while frames < min(taps, PARTITION_FRAMES_MAX):
        frames *= 2
    return frames


@njit(cache=True, nogil=True)
def _partition_sum(history: np.ndarray, live: np.ndarray, newest: int, spectra: np.ndarray,  # pragma: no cover
                   out: np.ndarray) -> None:
    # out[c] = sum over k = 0..K-1 of history[feed(c), (newest - k) % K] * spectra[c, k], k in order (slots
    # of silent input skipped: their spectrum is zero); feed(c) = c, or 0 where one feed serves every channel.
    feeds, slots, bins = history.shape
    for c in range(out.shape[0]):
        f = c if feeds > 1 else 0
        acc = out[c]
        acc[:] = 0.0
        for k in range(slots):
            slot = (newest - k) % slots
            if not live[slot]:
                continue
            x, h = history[f, slot], spectra[c, k]
            for j in range(bins):
                acc[j] += x[j] * h[j]


class Convolver:
    """Causal convolution of (frames, channels) audio with a (taps, k) response, cut to the input's frames,
    as a stream: input in blocks of any length, output in blocks as it becomes final, float64.

    Channels broadcast against k (k = 1: the same response on every channel); `downmix` feeds the channel
    mean instead (summed in channel order, times 1/channels). Output has max(channels or 1, k) channels.
    """

    def __init__(self, response: np.ndarray, frames: int, in_channels: int, downmix: bool = False) -> None:
        self.frames, self.in_channels, self.downmix = frames, in_channels, downmix
        taps = min(response.shape[0], frames)  # taps past the signal's end never reach the output
        self.feeds = 1 if downmix else in_channels
        self.channels = max(self.feeds, response.shape[1])
        self.emitted = self.filled = self.steps = 0
        self.block = 0 if frames == 0 or taps == 0 else partition_frames(taps)
        if not self.block:
            return
        b = self.block
        partitions = -(-taps // b)
        padded = np.zeros((partitions * b, response.shape[1]))
        padded[:taps] = response[:taps]
        # spectra[c, k]: partition k of channel c's response, zero-padded to 2B (channels first: a channel's
        # spectra, history and sums are contiguous, for its transforms and for `_step`'s split by channel)
        parts = padded.T.reshape(response.shape[1], partitions, b)
        spectra = sfft.rfft(parts, 2 * b, axis=-1).astype(_SPECTRUM_DTYPE)
        # a copy either way (writable): one compiled variant of the sum whether k is 1 or the channel count
        self.spectra = np.array(np.broadcast_to(spectra, (self.channels, partitions, b + 1)), order="C")
        self.history = np.zeros((self.feeds, partitions, b + 1), dtype=_SPECTRUM_DTYPE)
        self.live = np.zeros(partitions, dtype=np.bool_)
        self.window = np.zeros((self.feeds, 2 * b), dtype=SAMPLE_DTYPE)  # the last 2B input frames, newest second
        self.summed = np.empty((self.channels, b + 1), dtype=_SPECTRUM_DTYPE)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed the next input frames; returns the output frames now final (possibly none)."""
        block = np.asarray(block)
        if not self.block:  # nothing to convolve: silence, as the input arrives
            n = min(block.shape[0], self.frames - self.emitted)
            self.emitted += n
            return np.zeros((n, self.channels))
        outputs = []
        taken = 0
        while taken < block.shape[0] and self.emitted < self.frames:
            n = min(self.block - self.filled, block.shape[0] - taken)
            self._feed(block[taken:taken + n])
            taken += n
            if self.filled == self.block:
                outputs.append(self._step())
        return np.concatenate(outputs) if outputs else np.zeros((0, self.channels))

    def finish(self) -> np.ndarray:
        """The rest of the output, once every input frame is in (missing frames count as silence)."""
        outputs = []
        while self.block and self.emitted < self.frames:
            self.window[:, self.block + self.filled:] = 0.0
            self.filled = self.block
            outputs.append(self._step())
        return np.concatenate(outputs) if outputs else np.zeros((0, self.channels))

    def _feed(self, chunk: np.ndarray) -> None:
        """Put input frames into the newest half of the window."""
        at = self.block + self.filled
        feed = self.window[:, at:at + chunk.shape[0]]
        if self.downmix:  # channel mean, summed in channel order
            feed[0] = chunk[:, 0]
            for ch in range(1, self.in_channels):
                feed[0] += chunk[:, ch]
            feed[0] *= 1.0 / self.in_channels
        else:
            feed[...] = chunk.T
        self.filled += chunk.shape[0]

    def _step(self) -> np.ndarray:
        """Transform the full window into the delay line and emit the next B output frames (cut to `frames`);
        the channels' halves side by side where a core is idle (each channel's arithmetic is the same either
        way, so the output is too)."""
        b, slot = self.block, self.steps % self.live.shape[0]
        self.live[slot] = bool(self.window.any())
        if self.live[slot] and self.feeds == 1:  # one feed serves every channel: transformed once, here
            self.history[0, slot] = sfft.rfft(self.window[0])
        n = min(b, self.frames - self.emitted)
        if not self.live.any():  # silence in every slot (this one too): nothing to transform or sum
            out = np.zeros((n, self.channels))
        else:
            out = np.empty((n, self.channels))

            def channels(lo: int, hi: int) -> None:
                if self.live[slot] and self.feeds > 1:
                    self.history[lo:hi, slot] = sfft.rfft(self.window[lo:hi], axis=-1)
                history = self.history[lo:hi] if self.feeds > 1 else self.history
                _partition_sum(history, self.live, slot, self.spectra[lo:hi], self.summed[lo:hi])
                out[:, lo:hi] = sfft.irfft(self.summed[lo:hi], 2 * b, axis=-1)[:, b:b + n].T

            half = self.channels // 2
            if half:
                side_by_side(lambda: channels(0, half), lambda: channels(half, self.channels))
            else:
                channels(0, self.channels)
        self.window[:, :b] = self.window[:, b:]
        self.filled, self.emitted, self.steps = 0, self.emitted + n, self.steps + 1
        return out


def fft_convolve(audio: np.ndarray, response: np.ndarray, downmix: bool = False) -> np.ndarray:
    """`Convolver` over a whole signal: (frames, max(channels or 1, k)) float64."""
    stream = Convolver(response, audio.shape[0], audio.shape[1], downmix)
    return np.concatenate([stream.process(audio), stream.finish()])
