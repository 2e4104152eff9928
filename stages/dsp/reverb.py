"""Deterministic algorithmic reverb: a seeded, exponentially decaying, band-damped stereo noise IR.

An exponentially decaying Gaussian noise is the statistical model of a diffuse late reverberation
(Moorer 1979, "About this reverberation business"). The broadband energy envelope is exactly
10^(-6 t / decay_s), i.e. it falls 60 dB in decay_s (RT60, ISO 3382-1). `damping` gives the noise
bands above 1 kHz faster decay rates; dividing by the expected broadband energy of the mixture keeps
the broadband decay exact, so the spectrum darkens over time while T30 stays decay_s.
"""

from __future__ import annotations

import math

import numpy as np
from mixbuild.stages.dsp.checks import check_audio, check_number, check_sample_rate
from mixbuild.stages.dsp.convolve import Convolver

#: Band edges of the damping model in Hz (white noise split by FFT masks: exactly complementary).
BAND_EDGES_HZ = (0.0, 1000.0, 3000.0, 8000.0)
#: Per band, how much faster it decays: rate x (1 + damping * k), before the broadband normalisation.
BAND_DAMPING = (0.0, 1.0, 2.0, 4.0)
#: Decay of the amplitude envelope per second of decay_s: 60 dB = ln(1000) nepers.
_NEPERS_60_DB = math.log(1000.0)


def reverb_ir(sample_rate_hz: float, decay_s: float, predelay_ms: float = 0.0, damping: float = 0.5,
              width: float = 1.0, seed: int = 0) -> np.ndarray:
    """Stereo reverb impulse response (n, 2), float64, seeded by seed: same arguments, same IR.

    Starts after exactly round(predelay_ms*fs/1000) zero samples and lasts ceil(decay_s*fs) samples
    (to -60 dB, the last 5 % faded out). damping in [0, 1]: band decay rates x(1 + damping*BAND_DAMPING)
    before the broadband normalisation (damping 1 at 2 s: T30 ~2 s below 1 kHz, ~0.6 s above 8 kHz).
    width in [0, 1]: L/R correlation cos(width*pi/2), 0 = identical channels. Energy: mean 1 per channel.
    """
    rate = check_sample_rate(sample_rate_hz)
    decay = check_number(decay_s, "decay_s", ge=0.01, le=60.0)
    delay_frames = int(round(check_number(predelay_ms, "predelay_ms", ge=0.0, le=10000.0) * rate / 1000.0))
    damp = check_number(damping, "damping", ge=0.0, le=1.0)
    spread = check_number(width, "width", ge=0.0, le=1.0)
    seed = check_number(seed, "seed", ge=0, integer=True)

    n = int(math.ceil(decay * rate))
    t = np.arange(n, dtype=np.float64) / rate
    rng = np.random.default_rng(seed)
    mid_side = rng.standard_normal((n, 2))
    # Mid/side mix: correlation c^2 - s^2 = cos(width*pi/2); width 0 -> both channels exactly the mid noise.
    c, s = math.cos(spread * math.pi / 4.0), math.sin(spread * math.pi / 4.0)
    noise = np.empty((n, 2))
    noise[:, 0] = c * mid_side[:, 0] + s * mid_side[:, 1]
    noise[:, 1] = c * mid_side[:, 0] - s * mid_side[:, 1]

    # Split the (white) noise into complementary bands; band b has amplitude decay rate r_b (nepers/s).
    spectrum = np.fft.rfft(noise, axis=0)
    bin_hz = np.fft.rfftfreq(n, 1.0 / rate)
    edges = [e for e in BAND_EDGES_HZ if e < rate / 2.0] + [math.inf]
    base_rate = _NEPERS_60_DB / decay
    ir = np.zeros((n, 2))
    expected_energy = np.zeros(n)
    for index, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
        mask = (bin_hz >= low) & (bin_hz < high)
        share = np.count_nonzero(mask) / bin_hz.shape[0]  # expected power fraction of white noise
        if share == 0.0:
            continue
        band = np.fft.irfft(spectrum * mask[:, None], n=n, axis=0)
        decay_rate = base_rate * (1.0 + damp * BAND_DAMPING[index])
        weight = np.exp(-decay_rate * t)
        band *= weight[:, None]
        ir += band
        expected_energy += share * weight * weight
    # Normalise the broadband expected energy to exp(-2 base_rate t): exactly 60 dB down at decay_s.
    ir *= (np.exp(-base_rate * t) / np.sqrt(expected_energy))[:, None]
    fade = max(1, n // 20)
    ir[n - fade:] *= (0.5 + 0.5 * np.cos(np.pi * np.arange(1, fade + 1) / (fade + 1)))[:, None]
    ir /= math.sqrt(np.sum(ir * ir) / 2.0)  # one factor for both channels: width 0 stays identical
    return np.concatenate([np.zeros((delay_frames, 2)), ir], axis=0)


def apply_reverb(audio: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """Wet reverb (frames, 2), float64: the channel mean of audio convolved with each IR channel (in float32:
    see convolve).

    The mono feed makes the IR alone set the stereo image (width 0 = mono tail). Same frames as the
    input: the engine pads it with stages.tails.reverb_tail_s, so the tail is inside.
    """
    check_audio(audio)
    response = np.asarray(ir, dtype=np.float64)
    if response.ndim != 2 or response.shape[1] != 2 or response.shape[0] == 0:
        raise ValueError(f"ir: must have shape (frames, 2) with frames >= 1 (got shape {response.shape})")
    stream = reverb_stream(response, audio.shape[0], audio.shape[1])
    return np.concatenate([stream.process(audio), stream.finish()])


def reverb_stream(ir: np.ndarray, frames: int, channels: int) -> Convolver:
    """`apply_reverb` as a stream over `frames` frames of `channels`-channel audio."""
    return Convolver(ir[:frames], frames, channels, downmix=True)  # taps past the end never reach the output
