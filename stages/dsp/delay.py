"""Feedback delay (echo) with a one-pole low-pass in the loop: wet = LP(z^-D (x + feedback * wet)).

Two vectorised renderings of the same LTI loop. Short delays (D < RECURSION_MIN_FRAMES): the impulse
response (echo k at k*D samples, amplitude feedback^(k-1), low-passed k times), truncated where the
echoes fall below -90 dB, convolved by FFT (convolve.Convolver, partitioned overlap-save in bounded
memory). Long delays: the loop itself, D samples at a time - each block of D output samples
only depends on the previous block - exact, in a few thousand numpy/lfilter calls.
"""

from __future__ import annotations

import math

import numpy as np

from mixbuild.stages.dsp.convolve import Convolver
from mixbuild.stages.dsp.checks import check_audio, check_number, check_sample_rate
from mixbuild.stages.dsp.iir import initial_state, sosfilt

#: Echoes below this (relative to the first) are dropped from the impulse response.
TRUNCATE_DB = -90.0
#: An echo's trailing samples below this absolute amplitude are dropped (each echo has unit sum).
_ECHO_EPSILON = 1e-12
#: From this delay in frames (5.3 ms at 48 kHz) the loop runs block by block instead of by convolution:
#: measured faster from here on (per-block overhead vs FFTs of a response up to 205 delays long).
RECURSION_MIN_FRAMES = 256


def _echo_count(feedback: float, floor_db: float) -> int:
    """Number of echoes whose amplitude feedback^(k-1) is still >= floor_db (the first echo is 0 dB)."""
    if feedback == 0.0:
        return 1
    return 1 + math.floor(floor_db / (20.0 * math.log10(feedback)))


def _loop(sample_rate_hz: float, time_ms: float, feedback: float,
          highcut_hz: float | None) -> tuple[int, float, float | None]:
    """Validated loop parameters: delay in frames, feedback, one-pole coefficient (None: no low-pass)."""
    rate = check_sample_rate(sample_rate_hz)
    step = int(round(check_number(time_ms, "time_ms") * rate / 1000.0))
    if step < 1:
        raise ValueError(f"time_ms: must be >= one sample = {1000.0 / rate:g} ms (got {time_ms!r})")
    fb = check_number(feedback, "feedback", ge=0.0, lt=1.0)
    pole = None
    if highcut_hz is not None:
        pole = math.exp(-2.0 * math.pi * check_number(highcut_hz, "highcut_hz", gt=0.0) / rate)
    return step, fb, pole


def _one_pole_sos(pole: float) -> np.ndarray:
    """The matched one-pole low-pass y[n] = (1-p) x[n] + p y[n-1] as one SOS row (unity gain at DC)."""
    return np.array([[1.0 - pole, 0.0, 0.0, 1.0, -pole, 0.0]])


def delay_ir(sample_rate_hz: float, time_ms: float, feedback: float, highcut_hz: float | None = None,
             max_frames: int | None = None) -> np.ndarray:
    """Wet impulse response (n,): echo k (k >= 1) at k*round(time_ms*fs/1000) samples, amplitude
    feedback^(k-1), through the one-pole low-pass k times; echoes under -90 dB are dropped.

    The low-pass is the matched one-pole y[n] = (1-p) x[n] + p y[n-1], p = exp(-2 pi highcut_hz / fs)
    (unity gain at DC); highcut_hz=None means no filter. max_frames caps the length (output is cut anyway).
    """
    step, fb, pole = _loop(sample_rate_hz, time_ms, feedback, highcut_hz)
    count = _echo_count(fb, TRUNCATE_DB)
    limit = math.inf if max_frames is None else int(max_frames)
    echoes: list[tuple[int, np.ndarray]] = []
    echo = np.ones(1)
    # A one-pole pass spreads an echo by ~ its -240 dB settling length; pad by that, then trim the tail.
    spread = 1 if not pole else int(math.ceil(math.log(_ECHO_EPSILON) / math.log(pole))) + 1
    for k in range(1, count + 1):  # a loop over echoes (<= 205), never over samples
        if k * step >= limit:
            break
        if pole is not None:
            echo = sosfilt(_one_pole_sos(pole), np.concatenate([echo, np.zeros(spread)]))
            echo = echo[: np.flatnonzero(np.abs(echo) >= _ECHO_EPSILON)[-1] + 1]
        echoes.append((k * step, fb ** (k - 1) * echo))
    length = max((start + e.shape[0] for start, e in echoes), default=0)
    if max_frames is not None:
        length = min(length, int(max_frames))
    ir = np.zeros(length)
    for start, e in echoes:
        n = min(e.shape[0], length - start)
        ir[start:start + n] += e[:n]
    return ir


class DelayLoop:
    """The loop wet = LP(z^-step (x + fb * wet)) run step frames at a time (exact: no truncation), as a
    stream: wet chunk j needs input chunk j - 1 and wet chunk j - 1 only, so each is emitted as soon as its
    input chunk is in; the chunks and the filter's state are the ones one call on the whole input makes."""

    def __init__(self, frames: int, channels: int, step: int, fb: float, pole: float | None) -> None:
        self.frames, self.channels, self.step, self.fb = frames, channels, step, fb
        self.sos = _one_pole_sos(pole) if pole is not None else None
        self.state = initial_state(self.sos, channels) if self.sos is not None else None
        self.chunk = 0  # the next wet chunk to emit
        self.pending: list[np.ndarray] = []
        self.buffered = 0
        self.wet = np.zeros((0, channels))  # the last wet chunk emitted

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed the next input frames; returns the wet frames now known (possibly none)."""
        if block.shape[0]:
            self.pending.append(np.asarray(block))
            self.buffered += block.shape[0]
        outputs = []
        while self.chunk * self.step < self.frames:
            start = self.chunk * self.step
            stop = min(start + self.step, self.frames)
            if self.chunk == 0:
                wet = np.zeros((stop - start, self.channels))
            elif self.buffered < self.step:
                break
            else:
                joined = np.concatenate(self.pending) if len(self.pending) > 1 else self.pending[0]
                previous, rest = joined[:self.step], joined[self.step:]
                self.pending, self.buffered = ([rest] if rest.shape[0] else []), self.buffered - self.step
                feed = self.wet[:stop - start] * self.fb
                feed += previous[:stop - start]
                wet = feed if self.sos is None else sosfilt(self.sos, feed, self.state)
            self.wet = wet
            outputs.append(wet)
            self.chunk += 1
        return np.concatenate(outputs) if outputs else np.zeros((0, self.channels))

    def finish(self) -> np.ndarray:
        """The rest of the wet signal, once every input frame is in."""
        return self.process(np.zeros((0, self.channels)))


def delay_stream(sample_rate_hz: float, time_ms: float, feedback: float, highcut_hz: float | None,
                 frames: int, channels: int) -> DelayLoop | Convolver:
    """The wet echoes of `apply_delay` as a stream (`process(block)`, then `finish()`)."""
    step, fb, pole = _loop(sample_rate_hz, time_ms, feedback, highcut_hz)
    if step >= RECURSION_MIN_FRAMES:
        return DelayLoop(frames, channels, step, fb, pole)
    return Convolver(delay_ir(sample_rate_hz, time_ms, feedback, highcut_hz, max_frames=frames)[:, None],
                     frames, channels)


def apply_delay(audio: np.ndarray, sample_rate_hz: float, time_ms: float, feedback: float = 0.3,
                highcut_hz: float | None = None, mix: float = 1.0, wet_only: bool = False) -> np.ndarray:
    """Feedback delay on (frames, channels) audio, channels independent; same frames out, new float64 array.

    Returns the wet echoes alone when wet_only (a send/return bus), else dry + mix * wet (mix in [0, 1]).
    The first echo is at round(time_ms*fs/1000) samples with gain 1; the engine pads the input with
    the song's tail (stages.tails.delay_tail_s), so nothing is lost by keeping the input's length.
    """
    check_audio(audio)
    wet_level = check_number(mix, "mix", ge=0.0, le=1.0)
    stream = delay_stream(sample_rate_hz, time_ms, feedback, highcut_hz, audio.shape[0], audio.shape[1])
    wet = np.concatenate([stream.process(audio), stream.finish()])
    if wet_only:
        return wet
    wet *= wet_level
    wet += audio
    return wet
