"""Dither: deterministic, on the integer grid, TPDF error white with RMS = LSB/2."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from mixbuild.stages.dsp.dither import Quantizer

from .signals import music_like, sine


def quantize(x: np.ndarray, bit_depth: int, dither: str = "tpdf", seed: int = 0) -> np.ndarray:
    """The whole signal quantised as one block."""
    return Quantizer(bit_depth, dither, seed).process(x)

LSB16 = 2.0**-15


def test_deterministic_for_a_seed():
    x = music_like(1.0)
    a = quantize(x, 16, "tpdf", seed=1234)
    b = quantize(x, 16, "tpdf", seed=1234)
    c = quantize(x, 16, "tpdf", seed=1235)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("bits", [8, 16, 24])
@pytest.mark.parametrize("kind", ["tpdf", "none"])
def test_values_on_the_grid(bits, kind):
    x = music_like(0.5)
    y = quantize(x, bits, kind, seed=7)
    assert y.dtype == np.float64 and y.shape == x.shape
    k = y * 2.0 ** (bits - 1)
    np.testing.assert_array_equal(k, np.round(k))
    assert k.min() >= -(2 ** (bits - 1)) and k.max() <= 2 ** (bits - 1) - 1


def test_16_bit_grid_is_2_pow_minus_15():
    y = quantize(sine(-20.0, 0.1), 16, "tpdf", seed=0)
    np.testing.assert_array_equal(np.mod(y, LSB16), 0.0)


def _error(seconds=20.0, seed=3):
    x = sine(-20.0, seconds, channels=1, freq_hz=997.0)
    return (quantize(x, 16, "tpdf", seed=seed) - x)[:, 0]


def test_tpdf_error_rms_is_half_an_lsb():
    """Rounding error (uniform, LSB^2/12) plus TPDF dither (2 LSB^2/12): total LSB^2/4, RMS LSB/2 (within 2 %)."""
    rms = np.sqrt(np.mean(_error() ** 2))
    assert rms == pytest.approx(LSB16 / 2, rel=0.02)


def test_tpdf_error_is_white():
    """Energy per octave band grows 3 dB per octave for white noise: within +-1 dB of that over 8 octaves."""
    error = _error()
    freqs, psd = signal.welch(error, fs=48000, nperseg=8192)
    edges = 80.0 * 2.0 ** np.arange(9)  # 80 Hz ... 20.48 kHz, 8 octaves
    density_db = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        band = (freqs >= lo) & (freqs < hi)
        density_db.append(10 * np.log10(psd[band].mean()))
    density_db = np.array(density_db)
    assert np.ptp(density_db) < 2.0
    np.testing.assert_allclose(density_db, density_db.mean(), atol=1.0)
    # flat overall: the slope of a linear fit across the spectrum is ~0 dB per octave
    slope = np.polyfit(np.log2(np.sqrt(edges[:-1] * edges[1:])), density_db, 1)[0]
    assert abs(slope) < 0.2


def test_tpdf_error_is_independent_of_the_signal():
    """No distortion products: the error carries no 997 Hz component and no harmonics above the noise."""
    error = _error()
    spectrum = np.abs(np.fft.rfft(error * np.hanning(error.size))) ** 2
    freqs = np.fft.rfftfreq(error.size, 1 / 48000)
    noise_floor = np.median(spectrum)
    for harmonic in (997.0, 1994.0, 2991.0):
        at = np.argmin(np.abs(freqs - harmonic))
        assert spectrum[at - 2:at + 3].max() < 30 * noise_floor


def test_tpdf_is_triangular_over_two_lsb():
    """A quarter-LSB DC dithered: with t triangular on (-1, 1) LSB, the code is 1 where t >= 1/4
    (probability (3/4)^2 / 2 = 0.28125) and -1 where t < -3/4 (0.03125); 10^6 samples: within 4 sigma."""
    n = 1_000_000
    codes = Quantizer(16, "tpdf", 5).codes(np.full((n // 2, 2), 0.25 * LSB16))
    assert set(np.unique(codes)) == {-1, 0, 1}
    for code, p in ((1, 0.28125), (-1, 0.03125)):
        assert np.mean(codes == code) == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / n))


def test_none_rounds_to_nearest():
    x = sine(-20.0, 0.5)
    y = quantize(x, 16, "none")
    assert np.max(np.abs(y - x)) <= LSB16 / 2 + 1e-15


def test_full_scale_clips_to_the_largest_code():
    x = np.array([[1.0, -1.0], [0.99999999, -1.2]])
    y = quantize(x, 16, "none")
    np.testing.assert_array_equal(y, [[1 - LSB16, -1.0], [1 - LSB16, -1.0]])


def test_input_untouched():
    x = music_like(0.5).astype(np.float32)
    x.setflags(write=False)
    before = x.copy()
    quantize(x, 16)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize(
    "kwargs, name",
    [({"bit_depth": 1}, "bit_depth"), ({"bit_depth": 16.0}, "bit_depth"), ({"bit_depth": 16, "dither": "rpdf"}, "dither"),
     ({"bit_depth": 16, "seed": -1}, "seed")],
)
def test_bad_arguments_name_themselves(kwargs, name):
    with pytest.raises(ValueError, match=name):
        quantize(np.zeros((4, 2)), **kwargs)


def test_a_quantised_stream_equals_the_whole_signal_quantised():
    x = np.random.default_rng(3).standard_normal((100_003, 2)) * 0.3
    stream = Quantizer(16, "tpdf", 99)
    blocks = [stream.process(x[i:i + 32_768]) for i in range(0, x.shape[0], 32_768)]
    assert np.array_equal(np.concatenate(blocks), quantize(x, 16, "tpdf", seed=99))


@pytest.mark.parametrize("bits", [16, 24])
def test_packed_pcm_is_the_codes_little_endian_and_decodes_to_their_values(bits):
    """`pcm` gives the same stream as `codes` (same draws, same order), as a WAV's interleaved little-endian
    two's complement bytes, read back by numpy, and the float32 values code / 2**(bits - 1), clipped ends
    included."""
    x = music_like(0.5)
    x[:3] = [[1.5, -1.5], [1.0, -1.0], [0.0, 0.0]]  # over full scale both ways: the largest codes
    width = bits // 8
    packed, decoded = Quantizer(bits, "tpdf", 3).pcm(x, width)
    codes = Quantizer(bits, "tpdf", 3).codes(x)
    as_bytes = packed.reshape(-1, width)
    read = sum(as_bytes[:, b].astype(np.int64) << (8 * b) for b in range(width))
    read = np.where(read >= 1 << (bits - 1), read - (1 << bits), read)  # two's complement
    np.testing.assert_array_equal(read.reshape(x.shape), codes)
    assert codes[0].tolist() == [2 ** (bits - 1) - 1, -(2 ** (bits - 1))]
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, codes / 2.0 ** (bits - 1))
