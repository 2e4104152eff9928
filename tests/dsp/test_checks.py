"""The one argument check of the DSP primitives: what it accepts, and messages that name the parameter and the rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mixbuild.stages.dsp.checks import Q_BUTTERWORTH, check_number, check_sample_rate


@pytest.mark.parametrize("value, bounds, message", [
    ("loud", {}, "x: must be a number (got 'loud')"),
    (None, {"ge": 0}, "x: must be a number (got None)"),
    (math.nan, {}, "x: must be a finite number (got nan)"),
    (math.inf, {}, "x: must be a finite number (got inf)"),
    (1.0, {"ge": 0, "lt": 1}, "x: must be in [0, 1) (got 1.0)"),
    (-0.5, {"gt": 0, "le": 2}, "x: must be in (0, 2] (got -0.5)"),
    (0, {"gt": 0}, "x: must be > 0 and finite (got 0)"),
    (math.inf, {"ge": 0}, "x: must be >= 0 and finite (got inf)"),
    (0.5, {"ge": 1, "finite": False}, "x: must be >= 1 (got 0.5)"),
    (math.nan, {"ge": 1, "finite": False}, "x: must be >= 1 (got nan)"),
    (16.0, {"ge": 2, "le": 32, "integer": True}, "x: must be an integer in [2, 32] (got 16.0)"),
    (True, {"ge": 0, "integer": True}, "x: must be an integer >= 0 (got True)"),
    (-3, {"ge": 0, "integer": True}, "x: must be an integer >= 0 (got -3)"),
])
def test_refusals_name_the_parameter_and_the_rule(value, bounds, message):
    with pytest.raises(ValueError) as info:
        check_number(value, "x", **bounds)
    assert str(info.value) == message


def test_accepted_values_come_back_as_float_or_int():
    assert check_number(3, "x", ge=0) == 3.0 and isinstance(check_number(3, "x"), float)
    assert check_number(np.float32(0.25), "x", ge=0, le=1) == 0.25
    assert check_number(math.inf, "ratio", ge=1, finite=False) == math.inf
    assert check_number(0.0, "x", ge=0, lt=1) == 0.0  # closed end
    seed = 2**64 - 1  # an int seed keeps every bit (a float would round it)
    assert check_number(seed, "seed", ge=0, integer=True) == seed
    assert type(check_number(np.int64(16), "bit_depth", ge=2, le=32, integer=True)) is int


@pytest.mark.parametrize("rate", [8000, 44100, 48000.0, 768000])
def test_sample_rate_range(rate):
    assert check_sample_rate(rate) == float(rate)


@pytest.mark.parametrize("rate", [0, 7999, 768001, math.nan])
def test_sample_rate_out_of_range_names_the_parameter(rate):
    with pytest.raises(ValueError, match=r"^to_hz: must be in \[8000, 768000\] \(got"):
        check_sample_rate(rate, "to_hz")


def test_q_butterworth_is_the_eq_default_bit_for_bit():
    # The spec's EQ default has always been this float: a different last bit would change every default band.
    assert Q_BUTTERWORTH == 0.7071067811865476
