"""Breakpoint envelopes: exact at breakpoints, linear between, held outside."""

from __future__ import annotations

import numpy as np
import pytest

from mixbuild.stages.dsp.automation import envelope

FS = 48000


def test_values_at_breakpoint_samples_are_exact_and_linear_between():
    points = [(0.1, -6.0), (0.25, 3.3), (0.5, 0.1), (0.75, 0.7)]
    env = envelope(points, FS, FS)
    assert env.shape == (FS,) and env.dtype == np.float64
    for time_s, value in points:  # times on whole samples: exact equality, no rounding allowed
        assert env[round(time_s * FS)] == value
    # Linear between: the analytic line through the two neighbours, to float64 rounding.
    for (t0, v0), (t1, v1) in zip(points, points[1:]):
        n = np.arange(round(t0 * FS), round(t1 * FS) + 1)
        np.testing.assert_allclose(env[n], v0 + (n / FS - t0) * (v1 - v0) / (t1 - t0), rtol=0, atol=1e-12)


def test_held_before_the_first_and_after_the_last_breakpoint():
    env = envelope([(0.2, -3.0), (0.3, 1.0)], FS, FS)
    assert np.all(env[: round(0.2 * FS)] == -3.0)
    assert np.all(env[round(0.3 * FS):] == 1.0)


def test_single_breakpoint_and_empty_length():
    assert np.array_equal(envelope([(5.0, 0.25)], 100, FS), np.full(100, 0.25))
    assert envelope([(0.0, 1.0), (1.0, 2.0)], 0, FS).shape == (0,)


def test_equal_times_make_a_step_and_off_grid_breakpoints_interpolate():
    env = envelope([(0.0, 0.0), (0.5, 1.0), (0.5, -1.0), (1.0, -1.0)], 8000, 8000)
    assert env[3999] == pytest.approx(3999 / 4000)  # still rising toward 1.0
    assert env[4000] == -1.0  # the later of two equal times holds from that time on
    # A breakpoint between two samples: each neighbour lies on its own segment's line.
    env = envelope([(0.0, 0.0), (1.5 / FS, 1.5), (3.0 / FS, 0.0)], 4, FS)
    np.testing.assert_allclose(env, [0.0, 1.0, 1.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("points,match", [
    ([(0.5, 0.0), (0.4, 1.0)], r"^breakpoints: times must not decrease"),
    ([], r"^breakpoints: must be a non-empty"),
    ([(0.0, np.nan)], r"^breakpoints: must be finite"),
    ([(0.0, 1.0, 2.0)], r"^breakpoints: must be a non-empty sequence of \(time_s, value\) pairs"),
])
def test_bad_breakpoints_raise(points, match):
    with pytest.raises(ValueError, match=match):
        envelope(points, 10, FS)


def test_bad_lengths_and_rates_raise():
    with pytest.raises(ValueError, match=r"^n_frames: .*\(got -1\)"):
        envelope([(0.0, 1.0)], -1, FS)
    with pytest.raises(ValueError, match=r"^sample_rate_hz: .*\(got 0\)"):
        envelope([(0.0, 1.0)], 10, 0)
