"""The master's DC filter: a first-order Butterworth high-pass, checked against its analytic response."""

from __future__ import annotations

import numpy as np
import pytest

from mixbuild.stages.dsp.eq import apply_sos, dc_block_sos

RATE = 48000


def _gain_db(sos, freq_hz):
    """|H(e^jw)| in dB from the coefficients (the analytic reference for the measured filter)."""
    z = np.exp(1j * 2 * np.pi * freq_hz / RATE)
    b, a = sos[0, :3], sos[0, 3:]
    return 20 * np.log10(abs(np.polyval(b[::-1], 1 / z) / np.polyval(a[::-1], 1 / z)))


@pytest.mark.parametrize("corner_hz", [1.0, 5.0, 30.0])
def test_zero_at_dc_and_minus_3_db_at_the_corner(corner_hz):
    sos = dc_block_sos(corner_hz, RATE)
    assert sos[0, 0] + sos[0, 1] == 0.0  # a zero exactly at z = 1
    assert _gain_db(sos, corner_hz) == pytest.approx(-10 * np.log10(2), abs=1e-9)  # pre-warped bilinear: exact
    assert _gain_db(sos, 1000.0) == pytest.approx(0.0, abs=0.01)


def test_an_offset_is_removed_and_the_music_kept():
    t = np.arange(2 * RATE) / RATE
    tone = 0.25 * np.sin(2 * np.pi * 1000 * t)
    out = apply_sos((tone + 0.5)[:, None], dc_block_sos(5.0, RATE))[:, 0]
    settled = slice(RATE, None)  # 1 s: 31 time constants of a 5 Hz corner
    assert abs(out[settled].mean()) < 1e-6
    rms_ratio_db = 20 * np.log10(np.sqrt(np.mean(out[settled] ** 2)) / np.sqrt(np.mean(tone[settled] ** 2)))
    assert rms_ratio_db == pytest.approx(_gain_db(dc_block_sos(5.0, RATE), 1000.0), abs=1e-3)


def test_a_corner_at_or_over_nyquist_is_refused():
    with pytest.raises(ValueError, match="dc_filter_hz"):
        dc_block_sos(RATE, RATE)
