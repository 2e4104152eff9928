"""Mono bass: Linkwitz-Riley crossover whose low band is summed to mono (vinyl cutting, club playback)."""

from __future__ import annotations

import numpy as np
from mixbuild.stages.dsp.checks import Q_BUTTERWORTH, check_audio, check_number, check_sample_rate
from mixbuild.stages.dsp.eq import rbj_biquad
from mixbuild.stages.dsp.iir import initial_state, sosfilt


def linkwitz_riley_sos(crossover_hz: float, sample_rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """4th-order Linkwitz-Riley (two cascaded 2nd-order Butterworth) low-pass and high-pass SOS, each (2, 6).

    LP + HP is an allpass: flat magnitude, -6 dB per band at crossover_hz. The Butterworth biquad is the RBJ
    cookbook pass filter at q = 1/sqrt(2) (bilinear transform, prewarped at crossover_hz: scipy's butter(2)).
    """
    rate = check_sample_rate(sample_rate_hz)
    freq = check_number(crossover_hz, "crossover_hz", gt=0.0, lt=0.5 * rate)  # below Nyquist
    low = rbj_biquad("lowpass", freq, rate, 0.0, Q_BUTTERWORTH)
    high = rbj_biquad("highpass", freq, rate, 0.0, Q_BUTTERWORTH)
    return np.stack([low, low]), np.stack([high, high])


class MonoBass:
    """Mono bass as a stream: blocks of (frames, channels) through `process`, the crossover's state carried,
    so that a song taken block by block is the same, bit for bit, as `mono_bass` on the whole."""

    def __init__(self, sample_rate_hz: float, crossover_hz: float, channels: int) -> None:
        self.low_sos, self.high_sos = linkwitz_riley_sos(crossover_hz, sample_rate_hz)
        self.high_state = initial_state(self.high_sos, channels)
        self.low_state = initial_state(self.low_sos, 1)

    def process(self, block: np.ndarray) -> np.ndarray:
        """The next frames, float64, same shape."""
        x = np.asarray(block, dtype=np.float64)
        out = sosfilt(self.high_sos, x, self.high_state)  # float64 biquads: low-frequency precision
        low_mono = sosfilt(self.low_sos, x.mean(axis=1)[:, None], self.low_state)
        out += low_mono
        return out


def mono_bass(audio: np.ndarray, sample_rate_hz: float, crossover_hz: float) -> np.ndarray:
    """Sum the band below crossover_hz to mono (mean of channels), keep the band above per channel (LR4).

    float64, same shape; a mono or fully correlated input only gets the crossover's allpass phase.
    """
    check_audio(audio)
    x = np.asarray(audio, dtype=np.float64)
    if x.shape[0] == 0:
        return np.array(x, copy=True)
    return MonoBass(sample_rate_hz, crossover_hz, x.shape[1]).process(x)
