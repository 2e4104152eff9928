"""Feedback delay (echo) with a one-pole low-pass in the loop: wet = LP(z^-D (x + feedback * wet)).

Two vectorised renderings of the same LTI loop. Short delays (D < RECURSION_MIN_FRAMES): the impulse
response (echo k at k*D samples, amplitude feedback^(k-1), low-passed k times), truncated where the
echoes fall below -90 dB, convolved by FFT overlap-add (reverb.fft_convolve, oaconvolve's algorithm in
bounded memory). Long delays: the loop itself, D samples at a time - each block of D output samples
only depends on the previous block - exact, in a few thousand numpy/lfilter calls.
"""

from __future__ import annotations

import math

import numpy as np

from stages.dsp.reverb import fft_convolve
from stages.dsp.checks import check_audio, check_number, check_sample_rate
from stages.dsp.iir import initial_state, sosfilt

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


def _wet_by_loop(audio: np.ndarray, step: int, fb: float, pole: float | None) -> np.ndarray:
    """The loop wet = LP(z^-step (x + fb * wet)) run step frames at a time (exact: no truncation)."""
    frames, channels = audio.shape
    wet = np.zeros((frames, channels))
    sos = _one_pole_sos(pole) if pole is not None else None
    state = initial_state(sos, channels) if sos is not None else None
    for start in range(step, frames, step):  # a loop over blocks of one delay, never over samples
        stop = min(start + step, frames)
        feed = wet[start - step:stop - step] * fb
        feed += audio[start - step:stop - step]
        wet[start:stop] = feed if sos is None else sosfilt(sos, feed, state)
    return wet


def apply_delay(audio: np.ndarray, sample_rate_hz: float, time_ms: float, feedback: float = 0.3,
                highcut_hz: float | None = None, mix: float = 1.0, wet_only: bool = False) -> np.ndarray:
    """Feedback delay on (frames, channels) audio, channels independent; same frames out, new float64 array.

    Returns the wet echoes alone when wet_only (a send/return bus), else dry + mix * wet (mix in [0, 1]).
    The first echo is at round(time_ms*fs/1000) samples with gain 1; the engine pads the input with
    the song's tail (stages.tails.delay_tail_s), so nothing is lost by keeping the input's length.
    """
    check_audio(audio)
    wet_level = check_number(mix, "mix", ge=0.0, le=1.0)
    step, fb, pole = _loop(sample_rate_hz, time_ms, feedback, highcut_hz)
    frames = audio.shape[0]
    if step >= RECURSION_MIN_FRAMES:
        wet = _wet_by_loop(audio, step, fb, pole)
    else:
        wet = fft_convolve(audio, delay_ir(sample_rate_hz, time_ms, feedback, highcut_hz, max_frames=frames)[:, None])
    if wet_only:
        return wet
    wet *= wet_level
    wet += audio
    return wet
