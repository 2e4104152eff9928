"""K-weighting (BS.1770-4 Annex 1): the ITU 48 kHz table, and the same response at every rate."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from mixbuild.stages.dsp.loudness import block_powers, channel_weights, gated_loudness_lufs, k_weighting_sos

from .signals import sine

# BS.1770-4 Annex 1, tables 1 and 2 (48 kHz), printed to 14 decimals.
ITU_SHELF = [1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0, -1.69065929318241, 0.73248077421585]
ITU_HIGHPASS = [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621]
RATES_HZ = [22050, 32000, 44100, 48000, 88200, 96000, 176400, 192000]


def test_48k_coefficients_reproduce_the_itu_table():
    sos = k_weighting_sos(48000)
    assert sos.shape == (2, 6)
    # The table has 14 decimals; the derivation agrees to the last one (achieved: < 1e-15).
    np.testing.assert_allclose(sos[0], ITU_SHELF, rtol=0, atol=1e-13)
    np.testing.assert_allclose(sos[1], ITU_HIGHPASS, rtol=0, atol=1e-13)


@pytest.mark.parametrize("rate", RATES_HZ)
def test_stable_at_every_rate(rate):
    sos = k_weighting_sos(rate)
    for section in sos:
        assert np.all(np.abs(np.roots(section[3:])) < 1.0)


@pytest.mark.parametrize("rate", [44100, 88200, 96000, 192000])
def test_response_matches_48k_at_every_rate(rate):
    """Same curve at every rate: within 0.01 dB from 20 Hz to 0.45 fs (bilinear warping only near the shelf)."""
    freqs = np.geomspace(20, min(20000, 0.45 * rate), 60)
    ref = 20 * np.log10(np.abs(signal.sosfreqz(k_weighting_sos(48000), worN=freqs, fs=48000)[1]))
    got = 20 * np.log10(np.abs(signal.sosfreqz(k_weighting_sos(rate), worN=freqs, fs=rate)[1]))
    np.testing.assert_allclose(got, ref, atol=0.01)


def test_response_landmarks():
    """-13.3 dB at 20 Hz (RLB high-pass), +0.69 dB at 997 Hz (cancels the -0.691 offset), +4.0 dB shelf."""
    freqs = np.array([20.0, 997.0, 10000.0])
    gain_db = 20 * np.log10(np.abs(signal.sosfreqz(k_weighting_sos(48000), worN=freqs, fs=48000)[1]))
    np.testing.assert_allclose(gain_db, [-13.28, 0.691, 4.04], atol=0.02)


@pytest.mark.parametrize("bad", [0, -48000, 1000, 1e7, float("nan")])
def test_bad_sample_rate_names_the_parameter(bad):
    with pytest.raises(ValueError, match="sample_rate_hz"):
        k_weighting_sos(bad)


def test_channel_weights():
    np.testing.assert_array_equal(channel_weights(2), [1, 1])
    np.testing.assert_array_equal(channel_weights(5), [1, 1, 1, 1.41, 1.41])
    np.testing.assert_array_equal(channel_weights(6), [1, 1, 1, 0, 1.41, 1.41])


def test_block_lengths_and_partial_block_dropped():
    x = np.full((48000 + 1000, 1), 0.1)
    powers = block_powers(x, 48000, block_s=0.4, step_s=0.1)
    # blocks start at 0, 4800, ... while start + 19200 <= 49000: (49000 - 19200) // 4800 + 1 = 7
    assert powers.shape == (7,)


def test_gates_are_strict():
    """A block exactly at the absolute gate (-70 LUFS) does not pass it (BS.1770-4 eq. 5: l_j > gamma)."""
    at_gate = 10 ** ((-70.0 + 0.691) / 10)
    assert gated_loudness_lufs(np.array([at_gate] * 10)) == float("-inf")
    assert gated_loudness_lufs(np.array([at_gate * 1.001] * 10)) == pytest.approx(-70.0, abs=0.01)


def test_pooled_blocks_gate_an_album_together():
    """The album's loudness (album_loudness pools every song's blocks): a song 17 LU under a loud one
    falls under the pooled -10 LU relative gate, so the album reads as loud as the loud song alone."""
    loud, quiet = block_powers(sine(-18.0, 10.0), 48000), block_powers(sine(-35.0, 10.0), 48000)
    assert gated_loudness_lufs(np.concatenate([loud, quiet])) == pytest.approx(-18.0, abs=0.01)
    assert gated_loudness_lufs(quiet) == pytest.approx(-35.0, abs=0.01)


def test_block_powers_does_not_write_its_input():
    x = np.random.default_rng(0).standard_normal((48000, 2)).astype(np.float32)
    x.setflags(write=False)
    before = x.copy()
    block_powers(x, 48000)
    np.testing.assert_array_equal(x, before)


def test_block_powers_checks_its_input_unless_told_it_is_a_stored_render():
    """A song's stored master skips the finiteness pass (song_loudness): the same powers, one read fewer; any
    other caller still has NaN refused."""
    x = np.random.default_rng(1).standard_normal((96000, 2)).astype(np.float32) * 0.1
    np.testing.assert_array_equal(block_powers(x, 48000, check=False), block_powers(x, 48000))
    x[50000, 1] = np.nan
    with pytest.raises(ValueError, match="audio contains NaN or Inf samples"):
        block_powers(x, 48000)
