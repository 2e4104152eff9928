"""Pan law, balance, width and polarity against the sine/cosine constant-power law."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mixbuild.stages.dsp.pan import invert_polarity, pan_gains, pan_to_stereo, stereo_width


@pytest.mark.parametrize("pan", [-1.0, -0.5, 0.0, 0.5, 1.0])
def test_pan_gains_follow_the_sine_cosine_law(pan):
    # theta = (pan + 1) pi/4, L = cos, R = sin; 0.001 dB per the brief (compared as amplitudes where one is 0).
    theta = (pan + 1) * math.pi / 4
    left, right = pan_gains(pan)
    for got, want in ((left, math.cos(theta)), (right, math.sin(theta))):
        if want < 1e-12:
            assert abs(got) < 1e-12
        else:
            assert 20 * math.log10(got) == pytest.approx(20 * math.log10(want), abs=0.001)


def test_centre_is_minus_3_db_and_power_is_constant():
    left, right = pan_gains(0.0)
    assert 20 * np.log10(left) == pytest.approx(-3.0103, abs=0.001) and left == right
    sweep = np.linspace(-1, 1, 2001)
    left, right = pan_gains(sweep)
    np.testing.assert_allclose(left**2 + right**2, 1.0, atol=1e-15)  # constant power (sin^2 + cos^2)
    assert np.all(np.diff(left) <= 0) and np.all(np.diff(right) >= 0)


def test_mono_is_panned_with_constant_power_per_sample():
    n = 1000
    x = np.random.default_rng(0).standard_normal((n, 1))
    pan = np.linspace(-1, 1, n)
    y = pan_to_stereo(x, pan)
    left, right = pan_gains(pan)
    assert y.shape == (n, 2) and y.dtype == np.float64
    np.testing.assert_array_equal(y[:, 0], x[:, 0] * left)
    np.testing.assert_array_equal(y[:, 1], x[:, 0] * right)
    np.testing.assert_allclose(y[:, 0] ** 2 + y[:, 1] ** 2, x[:, 0] ** 2, rtol=1e-12)


@pytest.mark.parametrize("pan,left_db,right_db", [
    (0.0, 0.0, 0.0),
    (0.5, 20 * math.log10(math.sqrt(2) * math.cos(3 * math.pi / 8)), 0.0),  # -5.33 dB
    (-0.5, 0.0, 20 * math.log10(math.sqrt(2) * math.sin(math.pi / 8))),
    (-1.0, 0.0, None),
    (1.0, None, 0.0),
])
def test_stereo_balance_is_unity_at_centre_and_attenuates_the_far_side(pan, left_db, right_db):
    x = np.random.default_rng(1).standard_normal((500, 2))
    y = pan_to_stereo(x, pan)
    for ch, want in ((0, left_db), (1, right_db)):
        gain = y[:, ch] / x[:, ch]
        if want is None:
            assert np.all(np.abs(gain) < 1e-12)
        else:
            np.testing.assert_allclose(20 * np.log10(gain), want, atol=0.001)
    if pan == 0.0:
        np.testing.assert_array_equal(y, x)  # exact unity, not just close


@pytest.mark.parametrize("width", [0.0, 0.5, 1.0, 1.5, 2.0])
def test_width_scales_the_side_and_keeps_the_mid(width):
    x = np.random.default_rng(2).standard_normal((500, 2))
    y = stereo_width(x, width)
    mid, side = (x[:, 0] + x[:, 1]) / 2, (x[:, 0] - x[:, 1]) / 2
    np.testing.assert_allclose((y[:, 0] + y[:, 1]) / 2, mid, atol=1e-12)
    np.testing.assert_allclose((y[:, 0] - y[:, 1]) / 2, width * side, atol=1e-12)
    if width == 0.0:
        np.testing.assert_array_equal(y[:, 0], y[:, 1])
    if width == 1.0:
        np.testing.assert_array_equal(y, x)


def test_width_leaves_mono_alone_and_polarity_inverts():
    x = np.random.default_rng(3).standard_normal((100, 1))
    np.testing.assert_array_equal(stereo_width(x, 0.0), x)
    np.testing.assert_array_equal(invert_polarity(x), -x)
    assert invert_polarity(x.astype(np.float32)).dtype == np.float64


@pytest.mark.parametrize("channels", [0, 3, 6])
def test_other_channel_counts_raise_naming_the_count(channels):
    x = np.zeros((10, channels))
    with pytest.raises(ValueError, match=rf"\(got {channels} channels?\)|shape"):
        pan_to_stereo(x, 0.0)
    with pytest.raises(ValueError, match=rf"\(got {channels} channels?\)|shape"):
        stereo_width(x, 1.0)


@pytest.mark.parametrize("call,field", [
    (lambda: pan_gains(1.5), "pan"),
    (lambda: pan_gains(np.array([0.0, -1.01])), "pan"),
    (lambda: pan_to_stereo(np.zeros((10, 1)), np.zeros(9)), "pan"),
    (lambda: pan_to_stereo(np.zeros((10, 1)), np.nan), "pan"),
    (lambda: stereo_width(np.zeros((10, 2)), 2.5), "width"),
    (lambda: stereo_width(np.zeros((10, 2)), -0.1), "width"),
])
def test_bad_arguments_raise_value_error_naming_the_parameter(call, field):
    with pytest.raises(ValueError, match=rf"^{field}: .*\(got"):
        call()
