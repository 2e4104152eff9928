"""Feedback delay: echo times and amplitudes, the loop low-pass, tails and tempo sync."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mixbuild.stages.dsp.convolve import ERROR_OF_PEAK
from mixbuild.stages.dsp.delay import RECURSION_MIN_FRAMES, apply_delay, delay_ir
from mixbuild.stages.tails import beats_to_ms, delay_tail_s


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
@pytest.mark.parametrize("time_ms,feedback", [(125.0, 0.5), (10.01, 0.8), (333.3, 0.0), (2.0, 0.7), (1.01, 0.0)])
def test_echoes_at_multiples_of_the_delay_with_geometric_decay(rate, time_ms, feedback):
    # Without highcut the wet impulse response is exactly fb^(k-1) at k*round(time_ms*fs/1000) and 0
    # elsewhere, to the float32 FFT convolution's rounding on the short-delay path (ERROR_OF_PEAK of 1.0).
    step = round(time_ms * rate / 1000)
    n = 6 * step + 17
    impulse = np.zeros((n, 2))
    impulse[0] = (1.0, -0.5)
    wet = apply_delay(impulse, rate, time_ms, feedback, wet_only=True)
    expected = np.zeros(n)
    k = np.arange(1, n // step + 1)
    expected[k * step] = feedback ** (k - 1)
    np.testing.assert_allclose(wet[:, 0], expected, atol=ERROR_OF_PEAK)
    np.testing.assert_allclose(wet[:, 1], -0.5 * expected, atol=ERROR_OF_PEAK)  # channels independent
    assert wet[step, 0] == pytest.approx(1.0, abs=ERROR_OF_PEAK)


def test_loop_low_pass_filters_each_echo_once_more():
    # Echo k is the one-pole low-pass applied k times: echo 1 is (1-p) p^n; echo 2 is the convolution of
    # two of those, (1-p)^2 (n+1) p^n. Its DC gain stays 1, so the IR sums to 1/(1 - fb).
    rate, time_ms, fb, highcut = 48000, 50.0, 0.6, 2000.0
    p = math.exp(-2 * math.pi * highcut / rate)
    ir = delay_ir(rate, time_ms, fb, highcut_hz=highcut)
    step = round(time_ms * rate / 1000)
    n = np.arange(200)
    assert np.all(ir[:step] == 0.0)
    # atol 1e-11: each echo's trailing samples under 1e-12 are trimmed (its sum is 1, so that is -240 dB).
    np.testing.assert_allclose(ir[step:step + 200], (1 - p) * p**n, rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(ir[2 * step:2 * step + 200], fb * (1 - p) ** 2 * (n + 1) * p**n, rtol=1e-9, atol=1e-11)
    assert ir.sum() == pytest.approx(1 / (1 - fb), rel=1e-4)  # truncated at -90 dB: 3e-5 missing


def test_impulse_response_is_truncated_at_minus_90_db():
    # fb = 0.5: echoes k with 0.5^(k-1) >= 10^(-90/20) are kept, i.e. k <= 15.
    ir = delay_ir(48000, 10.0, 0.5)
    step = 480
    assert ir.shape[0] == 15 * step + 1 and ir[-1] == 0.5**14


@pytest.mark.parametrize("highcut_hz", [None, 3000.0])
def test_loop_and_convolution_renderings_agree(highcut_hz):
    # Delays just either side of RECURSION_MIN_FRAMES take the two paths; rendered the other way by
    # hand, each agrees to -90 dB of the wet peak (the convolution's response stops at -90 dB echoes).
    from mixbuild.stages.dsp.delay import DelayLoop
    from mixbuild.stages.dsp.convolve import fft_convolve

    rate = 48000
    x = np.random.default_rng(5).standard_normal((rate // 2, 2))
    for step in (RECURSION_MIN_FRAMES - 1, RECURSION_MIN_FRAMES):
        time_ms = step * 1000 / rate
        pole = None if highcut_hz is None else math.exp(-2 * math.pi * highcut_hz / rate)
        loop = DelayLoop(x.shape[0], 2, step, 0.9, pole)
        by_loop = np.concatenate([loop.process(x), loop.finish()])
        by_conv = fft_convolve(x, delay_ir(rate, time_ms, 0.9, highcut_hz)[:, None])
        np.testing.assert_allclose(apply_delay(x, rate, time_ms, 0.9, highcut_hz, wet_only=True),
                                   by_loop if step >= RECURSION_MIN_FRAMES else by_conv, rtol=0, atol=1e-12)
        assert np.abs(by_loop - by_conv).max() < 10 ** (-90 / 20) * np.abs(by_loop).max()


def test_dry_plus_mix_and_the_same_frames_out():
    rate = 48000
    x = np.random.default_rng(0).standard_normal((4800, 1))
    x.setflags(write=False)
    wet = apply_delay(x, rate, 20.0, 0.3, highcut_hz=5000.0, wet_only=True)
    both = apply_delay(x, rate, 20.0, 0.3, highcut_hz=5000.0, mix=0.25)
    assert wet.shape == both.shape == x.shape and wet.dtype == np.float64
    np.testing.assert_allclose(both, x + 0.25 * wet, atol=1e-12)


def test_delay_tail_and_beats():
    # The engine sizes songs with stages.tails: until the first echo under -60 dB, 0.5^(k-1) < 1e-3
    # first at k = 11, at 11 x 250 ms.
    assert delay_tail_s(250.0, 0.5) == pytest.approx(2.75)
    assert 0.5 ** (11 - 1) < 1e-3 <= 0.5 ** (10 - 1)
    assert delay_tail_s(250.0, 0.0) == pytest.approx(0.25)
    for time_ms, fb in ((250.0, 0.5), (100.0, 0.9), (375.0, 0.3)):
        cut = round(delay_tail_s(time_ms, fb) * 48000)
        assert np.abs(delay_ir(48000, time_ms, fb)[cut:]).max(initial=0.0) < 1e-3  # past the tail: under -60 dB
    assert beats_to_ms(1, 120) == 500.0  # a quarter note at 120 bpm
    assert beats_to_ms(0.75, 90) == pytest.approx(500.0)  # dotted eighth at 90 bpm


@pytest.mark.parametrize("call,field", [
    (lambda: beats_to_ms(1, None), "tempo_bpm"),
    (lambda: beats_to_ms(1, 0), "tempo_bpm"),
    (lambda: apply_delay(np.zeros((10, 2)), 48000, 100, 1.2), "feedback"),
    (lambda: apply_delay(np.zeros((10, 2)), 48000, 0.001, 0.2), "time_ms"),
    (lambda: apply_delay(np.zeros((10, 2)), 48000, 100, 0.2, highcut_hz=-5), "highcut_hz"),
    (lambda: apply_delay(np.zeros((10, 2)), 48000, 100, 0.2, mix=2), "mix"),
])
def test_bad_arguments_raise_value_error_naming_the_parameter(call, field):
    with pytest.raises(ValueError, match=rf"^{field}: .*\(got"):
        call()


@pytest.mark.parametrize("time_ms", [2.0, 375.0])  # the convolution and the loop
def test_the_delay_streamed_in_any_blocks_equals_one_pass(time_ms):
    from mixbuild.stages.dsp.delay import delay_stream

    rate = 48000
    x = np.random.default_rng(9).standard_normal((100_003, 2))
    whole = apply_delay(x, rate, time_ms, 0.6, 5000.0, wet_only=True)
    for block in (999, 32_768):
        stream = delay_stream(rate, time_ms, 0.6, 5000.0, x.shape[0], 2)
        parts = [stream.process(x[i:i + block]) for i in range(0, x.shape[0], block)] + [stream.finish()]
        assert np.array_equal(np.concatenate(parts), whole), block
