"""Long-term average spectrum in 1/3-octave bands (IEC 61260-1 base-10 bands), for tonal balance across an album."""

from __future__ import annotations

import numpy as np
from mixbuild.stages.dsp.checks import check_audio, check_sample_rate
from mixbuild.stages.dsp.pages import drop_pages

#: IEC 61260-1 nominal mid-band frequencies, 25 Hz to 16 kHz.
NOMINAL_CENTERS_HZ = np.array(
    [25, 31.5, 40, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630, 800,
     1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000, 10000, 12500, 16000],
    dtype=np.float64,
)  # fmt: skip
#: Exact base-10 mid-band frequencies 1000 * 10**(x/10), x = -16..12 (IEC 61260-1 eq. 2).
EXACT_CENTERS_HZ = 1000.0 * 10.0 ** (np.arange(-16, 13) / 10.0)
#: Bands are kept while their upper edge stays below this fraction of the sample rate.
MAX_EDGE_FRACTION_OF_FS = 0.45


def welch_psd(audio: np.ndarray, sample_rate_hz: float, nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    """(bin frequencies in Hz, one-sided power spectral density averaged over channels) by Welch's method.

    What scipy.signal.welch computes with its defaults (periodic Hann, 50 % overlap, each segment's mean
    removed, density scaling, full segments only), one segment at a time so memory stays at one segment.
    """
    frames, channels = audio.shape
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(nperseg) / nperseg)  # periodic Hann
    hop = nperseg - nperseg // 2
    starts = range(0, frames - nperseg + 1, hop)
    power = np.zeros(nperseg // 2 + 1)
    for start in starts:  # a loop over segments (~1 per 0.7 s), never over samples
        segment = np.asarray(audio[start:start + nperseg], dtype=np.float64)
        segment = (segment - segment.mean(axis=0)) * window[:, None]
        power += (np.abs(np.fft.rfft(segment, axis=0)) ** 2).sum(axis=1)
        drop_pages(audio, start + hop, start)  # the next segment starts there
    power *= 2.0 / (sample_rate_hz * np.sum(window ** 2) * len(starts) * channels)  # one-sided density
    power[0] /= 2.0
    if nperseg % 2 == 0:
        power[-1] /= 2.0  # DC and Nyquist have no negative-frequency twin
    return np.fft.rfftfreq(nperseg, 1.0 / sample_rate_hz), power


def third_octave_levels_db(audio: np.ndarray, sample_rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """(nominal centres in Hz, band levels in dB re a mean square of 1.0): a full-scale sine reads -3.01 dB.

    Welch PSD (Hann, ~0.7 Hz bins, channels averaged) integrated over each band [fm 10**-0.05, fm 10**0.05);
    bands with an upper edge above 0.45 fs are dropped; a silent band reads -inf.
    """
    check_audio(audio)
    rate = check_sample_rate(sample_rate_hz)
    lower = EXACT_CENTERS_HZ * 10.0 ** (-1.0 / 20.0)
    upper = EXACT_CENTERS_HZ * 10.0 ** (1.0 / 20.0)
    keep = upper < MAX_EDGE_FRACTION_OF_FS * rate
    centers, lower, upper = NOMINAL_CENTERS_HZ[keep], lower[keep], upper[keep]
    frames = audio.shape[0]
    if frames < 2:
        return centers.copy(), np.full(centers.shape, -np.inf)
    nperseg = min(frames, 1 << int(np.ceil(np.log2(rate / 0.75))))
    freqs, psd = welch_psd(audio, rate, nperseg)
    df = freqs[1] - freqs[0]
    # band power = integral of the PSD: bins whose centre lies in [lower, upper)
    index = np.searchsorted(freqs, np.stack([lower, upper]), side="left")
    cumulative = np.concatenate([[0.0], np.cumsum(psd) * df])
    band_power = cumulative[index[1]] - cumulative[index[0]]
    with np.errstate(divide="ignore"):
        levels = 10.0 * np.log10(np.maximum(band_power, 0.0))
    return centers.copy(), levels
