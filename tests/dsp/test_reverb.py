"""Algorithmic reverb IR: RT60 by Schroeder backward integration, predelay, seeding, width, damping."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from mixbuild.stages.dsp.convolve import ERROR_OF_PEAK
from mixbuild.stages.dsp.reverb import apply_reverb, reverb_ir
from mixbuild.stages.tails import reverb_tail_s

FS = 48000


def schroeder_t30_s(ir: np.ndarray, rate: float) -> float:
    """RT60 from the T30 range: Schroeder's backward-integrated energy decay curve (ISO 3382-1),
    line fitted from -5 to -35 dB, extrapolated to 60 dB."""
    energy = np.sum(ir**2, axis=1) if ir.ndim == 2 else ir**2
    start = np.flatnonzero(energy)[0]
    edc = np.cumsum(energy[start:][::-1])[::-1]
    edc = edc[edc > 0]
    edc_db = 10 * np.log10(edc / edc[0])
    fit = np.flatnonzero((edc_db <= -5) & (edc_db >= -35))
    slope_db_per_s = np.polyfit(fit / rate, edc_db[fit], 1)[0]
    return -60.0 / slope_db_per_s


@pytest.mark.parametrize("decay_s", [0.3, 1.0, 2.0, 6.0])
@pytest.mark.parametrize("damping", [0.0, 0.5, 1.0])
def test_broadband_t30_matches_decay_s(decay_s, damping):
    # Brief: within 10 %. The energy envelope is exactly 60 dB per decay_s; the noise realisation
    # makes the fit wander by ~1-3 % at 0.3 s, less for longer tails. Each channel on its own too.
    ir = reverb_ir(FS, decay_s, damping=damping, seed=1)
    assert schroeder_t30_s(ir, FS) == pytest.approx(decay_s, rel=0.10)
    for ch in range(2):
        assert schroeder_t30_s(ir[:, ch], FS) == pytest.approx(decay_s, rel=0.10)


def test_damping_makes_high_frequencies_decay_faster():
    # T30 of the band above 8 kHz versus 100 Hz-1 kHz (4th-order Butterworth bands, causal, zero-padded
    # so their ringing is measured too): equal without damping, clearly shorter with it.
    def band_t30(ir, band_hz):
        edges = band_hz if len(band_hz) == 2 else band_hz[0]
        sos = signal.butter(4, edges, btype="bandpass" if len(band_hz) == 2 else "highpass", fs=FS, output="sos")
        padded = np.concatenate([ir, np.zeros((FS // 10, 2))])
        return schroeder_t30_s(signal.sosfilt(sos, padded, axis=0), FS)

    bright = reverb_ir(FS, 2.0, damping=0.0)
    dark = reverb_ir(FS, 2.0, damping=1.0)
    assert band_t30(bright, [8000]) == pytest.approx(band_t30(bright, [100, 1000]), rel=0.1)
    assert band_t30(dark, [8000]) < 0.5 * band_t30(dark, [100, 1000])


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
@pytest.mark.parametrize("predelay_ms", [0.0, 0.01, 12.34, 100.0])
def test_predelay_is_exactly_round_ms_times_fs_zero_samples(rate, predelay_ms):
    ir = reverb_ir(rate, 0.3, predelay_ms=predelay_ms)
    lead = round(predelay_ms * rate / 1000)
    assert np.all(ir[:lead] == 0.0) and np.all(ir[lead] != 0.0)
    assert ir.shape[0] == lead + int(np.ceil(0.3 * rate))
    assert reverb_tail_s(0.3, predelay_ms) == pytest.approx(0.3 + predelay_ms / 1000)
    assert ir.shape[0] <= round(reverb_tail_s(0.3, predelay_ms) * rate) + 1  # the engine's tail holds the IR


def test_same_seed_same_ir_and_unit_energy():
    a, b, c = reverb_ir(FS, 1.0, seed=7), reverb_ir(FS, 1.0, seed=7), reverb_ir(FS, 1.0, seed=8)
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert a.dtype == np.float64 and a.shape[1] == 2
    assert np.sum(a**2) / 2 == pytest.approx(1.0)  # mean energy per channel: output power ~ input power


@pytest.mark.parametrize("width,correlation", [(0.0, 1.0), (0.5, np.cos(np.pi / 4)), (1.0, 0.0)])
def test_width_sets_the_left_right_correlation(width, correlation):
    # L/R normalised correlation is cos(width*pi/2); 0.03 is the estimator's spread over 48 k samples.
    ir = reverb_ir(FS, 1.0, width=width)
    r = np.sum(ir[:, 0] * ir[:, 1]) / np.sqrt(np.sum(ir[:, 0] ** 2) * np.sum(ir[:, 1] ** 2))
    assert r == pytest.approx(correlation, abs=0.03)
    if width == 0.0:
        assert np.array_equal(ir[:, 0], ir[:, 1])


def test_apply_reverb_of_an_impulse_is_the_ir_cut_to_the_input():
    ir = reverb_ir(FS, 0.5, predelay_ms=10.0)
    for channels in (1, 2):
        x = np.zeros((FS // 4, channels))
        x[0] = 1.0
        x.setflags(write=False)
        y = apply_reverb(x, ir)
        assert y.shape == (FS // 4, 2) and y.dtype == np.float64
        # the mono feed of an impulse is the impulse: y is the IR, to the float32 convolution's rounding
        np.testing.assert_allclose(y, ir[: FS // 4], atol=ERROR_OF_PEAK * np.abs(ir).max())


def test_blocked_convolution_equals_oaconvolve_of_the_channel_mean():
    # apply_reverb's partitioned overlap-save (float32 transforms) against scipy's oaconvolve of the whole input
    # (float64): equal to the float32 rounding, ERROR_OF_PEAK of the output's peak.
    ir = reverb_ir(FS, 0.1, predelay_ms=1.0)
    x = np.random.default_rng(3).standard_normal((20 * ir.shape[0] + 123, 2))
    ref = signal.oaconvolve(x.mean(axis=1)[:, None], ir, axes=0)[: x.shape[0]]
    np.testing.assert_allclose(apply_reverb(x, ir), ref, atol=ERROR_OF_PEAK * np.abs(ref).max())


def test_a_response_of_many_partitions_over_silence_equals_oaconvolve():
    # A 3-s IR is three 65536-frame partitions; the input's silent stretch (longer than the IR) leaves delay-line
    # slots silent, skipped in the sum: the output there is the IR's tail, then exact zeros.
    from mixbuild.stages.dsp.convolve import partition_frames

    ir = reverb_ir(FS, 3.0, predelay_ms=20.0, seed=2)
    assert -(-ir.shape[0] // partition_frames(ir.shape[0])) == 3
    x = np.random.default_rng(4).standard_normal((20 * FS + 77, 2))
    x[2 * FS:14 * FS] = 0.0
    ref = signal.oaconvolve(x.mean(axis=1)[:, None], ir, axes=0)[: x.shape[0]]
    y = apply_reverb(x, ir)
    np.testing.assert_allclose(y, ref, atol=ERROR_OF_PEAK * np.abs(ref).max())
    assert not y[9 * FS:12 * FS].any()  # whole 65536-frame steps with silence in every slot


@pytest.mark.parametrize("kwargs,field", [
    ({"decay_s": 0.0}, "decay_s"), ({"decay_s": -1.0}, "decay_s"), ({"damping": 1.5}, "damping"),
    ({"width": -0.1}, "width"), ({"predelay_ms": -1.0}, "predelay_ms"), ({"seed": -3}, "seed"),
    ({"sample_rate_hz": 100}, "sample_rate_hz"),
])
def test_bad_arguments_raise_value_error_naming_the_parameter(kwargs, field):
    args = {"sample_rate_hz": FS, "decay_s": 1.0, **kwargs}
    with pytest.raises(ValueError, match=rf"^{field}: .*\(got"):
        reverb_ir(**args)


def test_the_reverb_streamed_in_any_blocks_equals_one_pass():
    from mixbuild.stages.dsp.reverb import reverb_stream

    rate = 48000
    x = np.random.default_rng(8).standard_normal((150_001, 2))
    ir = reverb_ir(rate, 1.5, predelay_ms=20.0, seed=3)
    for block in (7_777, 65_536, 262_144):  # shorter and longer than a partition (65536 frames)
        stream = reverb_stream(ir, x.shape[0], 2)
        parts = [stream.process(x[i:i + block]) for i in range(0, x.shape[0], block)] + [stream.finish()]
        assert np.array_equal(np.concatenate(parts), apply_reverb(x, ir)), block


@pytest.mark.parametrize("downmix,channels,responses", [(True, 2, 2), (False, 2, 1), (False, 2, 2), (True, 1, 2),
                                                        (False, 1, 1)])
def test_channels_transformed_side_by_side_equal_one_thread_bit_for_bit(downmix, channels, responses, monkeypatch):
    # Where a core is idle (-j 2, one task rendering), each step's channels are split across two threads; the
    # output must be the same samples as one thread's, or a build's bytes would depend on its cores.
    from mixbuild.stages.ahead import CORES
    from mixbuild.stages.dsp.convolve import fft_convolve

    rng = np.random.default_rng(11)
    x = rng.standard_normal((5 * FS + 99, channels))
    x[FS:2 * FS] = 0.0  # a silent stretch: skipped slots in the sum
    ir = rng.standard_normal((FS // 2, responses)) * np.exp(-np.arange(FS // 2) / 4000.0)[:, None]
    alone = fft_convolve(x, ir, downmix=downmix)
    claims: list[bool] = []
    claim = CORES.claim
    monkeypatch.setattr(CORES, "claim", lambda: claims.append(claim()) or claims[-1])
    with CORES.cores(2), CORES.task():
        split = fft_convolve(x, ir, downmix=downmix)
    assert any(claims) == (max(channels, responses) > 1), "a stereo output was not split, or a mono one was"
    assert np.array_equal(split, alone)
