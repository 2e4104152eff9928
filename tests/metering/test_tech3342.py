"""EBU Tech 3342 (2016) loudness-range cases 1-4, synthesised from their definitions (tolerance +-1 LU).

Cases 5 and 6 are authentic programme excerpts distributed only as files and are not covered here.
"""

from __future__ import annotations

import numpy as np
import pytest

from mixbuild.stages.dsp.loudness import measure

from .signals import sequence, silence, sine


def _lra_lu(x: np.ndarray, rate: float) -> float:
    """The LRA the product reports (measure().lra_lu)."""
    return measure(x, rate, true_peak=False).lra_lu


LRA_CASES = [
    # case, (level dBFS, duration s) segments, expected LRA
    (1, [(-20, 20), (-30, 20)], 10.0),
    (2, [(-20, 20), (-15, 20)], 5.0),
    (3, [(-40, 20), (-20, 20)], 20.0),
    (4, [(-50, 20), (-35, 20), (-20, 20), (-35, 20), (-50, 20)], 15.0),
]


@pytest.mark.parametrize("case, segments, expected", LRA_CASES)
def test_lra_cases_48k(case, segments, expected):
    x = sequence(*[sine(level, duration) for level, duration in segments])
    assert _lra_lu(x, 48000) == pytest.approx(expected, abs=1.0)


@pytest.mark.parametrize("rate", [44100, 96000])
def test_lra_case_1_other_rates(rate):
    x = sequence(sine(-20, 20, rate), sine(-30, 20, rate))
    assert _lra_lu(x, rate) == pytest.approx(10.0, abs=1.0)


def test_lra_ignores_what_the_gates_drop():
    """Silence (absolute gate) and a -45 dBFS passage (> 20 LU under, relative gate) do not widen the range."""
    x = sequence(silence(10), sine(-45, 20), sine(-20, 20), sine(-30, 20), silence(10))
    assert _lra_lu(x, 48000) == pytest.approx(10.0, abs=1.0)


def test_lra_undefined_is_zero():
    assert _lra_lu(silence(10), 48000) == 0.0
    assert _lra_lu(sine(-20, 2.9), 48000) == 0.0  # shorter than one 3 s block
    assert _lra_lu(sine(-20, 10), 48000) == pytest.approx(0.0, abs=1e-6)


def test_lra_is_level_independent():
    x = sequence(sine(-20, 20), sine(-30, 20))
    assert _lra_lu(x * 0.1, 48000) == pytest.approx(_lra_lu(x, 48000), abs=1e-6)
    assert np.isfinite(_lra_lu(x * 0.1, 48000))
