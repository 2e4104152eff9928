"""Compressor against Giannoulis, Massberg & Reiss 2012: static curve (eq. 4), ballistics (eq. 16)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mixbuild.stages.dsp.compressor import BLOCK_FRAMES, Compressor, compress

FS = 48000


def _eq4(level_db: float, threshold_db: float, ratio: float, knee_db: float) -> float:
    """Eq. 4 as printed: output level y_G of the soft-knee gain computer, minus the input (gain, dB)."""
    over = level_db - threshold_db
    if 2 * over < -knee_db:
        y = level_db
    elif knee_db > 0 and 2 * abs(over) <= knee_db:
        y = level_db + (1 / ratio - 1) * (over + knee_db / 2) ** 2 / (2 * knee_db)
    else:
        y = threshold_db + over / ratio
    return y - level_db


def _reference(x: np.ndarray, threshold_db, ratio, knee_db, attack_ms, release_ms, makeup_db) -> np.ndarray:
    """Scalar transcription of the paper's figure-7 compressor (eq. 4 then eq. 16), float64, for short inputs."""
    alpha_a = math.exp(-1 / (attack_ms * 1e-3 * FS))
    alpha_r = math.exp(-1 / (release_ms * 1e-3 * FS))
    y_l = 0.0
    gains = np.empty(x.shape[0])
    for n, frame in enumerate(x):
        x_g = 20 * math.log10(max(float(np.max(np.abs(frame))), 1e-10))
        x_l = -_eq4(x_g, threshold_db, ratio, knee_db)
        alpha = alpha_a if x_l > y_l else alpha_r
        y_l = alpha * y_l + (1 - alpha) * x_l
        gains[n] = 10 ** ((makeup_db - y_l) / 20)
    return x * gains[:, None]


@pytest.mark.parametrize("threshold_db,ratio,knee_db", [(-20.0, 4.0, 6.0), (-10.0, 2.0, 0.0), (-30.0, 10.0, 12.0),
                                                        (-18.0, math.inf, 3.0)])
def test_static_gain_matches_eq4(threshold_db, ratio, knee_db):
    # The vectorised branch-free form against the paper's three cases: equal to float64 rounding. Attack
    # and release of 1 ps make both coefficients exactly 0, so each sample's gain is the static curve's.
    levels = np.linspace(-80.0, 10.0, 9001)
    ref = np.array([_eq4(v, threshold_db, ratio, knee_db) for v in levels])
    x = 10 ** (levels / 20)[:, None]
    y = compress(x, FS, threshold_db, ratio, knee_db=knee_db, attack_ms=1e-9, release_ms=1e-9)
    gain_db = 20 * np.log10(y[:, 0] / x[:, 0])
    np.testing.assert_allclose(gain_db, ref, atol=1e-12)
    assert np.all(y <= x)


@pytest.mark.parametrize("shape", ["dc", "square"])
@pytest.mark.parametrize("level_db", [-40.0, -26.0, -23.0, -21.0, -20.0, -19.0, -17.0, -14.0, -6.0, 0.0])
def test_steady_tones_follow_the_static_curve(shape, level_db):
    # A steady tone of constant |x| (DC or a square wave) holds the detector at level_db, so once the
    # ballistics settle (50 attack/release constants) the gain is the static curve: brief asks 0.1 dB.
    threshold_db, ratio, knee_db = -20.0, 4.0, 6.0
    n = int(0.1 * FS)
    amp = 10 ** (level_db / 20)
    wave = np.ones(n) if shape == "dc" else np.sign(np.sin(2 * np.pi * 997 * np.arange(n) / FS) + 1e-9)
    x = np.stack([amp * wave, -amp * wave], axis=1)
    y = compress(x, FS, threshold_db, ratio, knee_db=knee_db, attack_ms=0.5, release_ms=2.0)
    measured = 20 * np.log10(np.abs(y[-100:] / x[-100:]))
    expected = threshold_db + (level_db - threshold_db) / ratio - level_db if level_db > threshold_db + 3 else None
    ref = _eq4(level_db, threshold_db, ratio, knee_db)
    if expected is not None:
        assert ref == pytest.approx(expected)  # above the knee eq. 4 is threshold + over/ratio
    np.testing.assert_allclose(measured, ref, atol=0.1)


def _first_crossing(values: np.ndarray, level: float) -> float:
    """Fractional sample index where a monotonic sequence first reaches level (linear interpolation)."""
    i = int(np.flatnonzero(values >= level)[0]) if values[-1] > values[0] else int(np.flatnonzero(values <= level)[0])
    v0, v1 = values[i - 1], values[i]
    return i - 1 + (level - v0) / (v1 - v0)


@pytest.mark.parametrize("attack_ms,release_ms", [(10.0, 100.0), (1.0, 50.0), (30.0, 250.0)])
def test_attack_and_release_time_constants_from_a_level_step(attack_ms, release_ms):
    # Level steps -60 -> -10 -> -60 dBFS, threshold -30, ratio 4, hard knee: the gain reduction target
    # steps 0 -> 15 -> 0 dB. attack_ms (release_ms) is when 63.2 % (1 - 1/e) of the step is covered.
    # Tolerance 5 % (brief); the one-pole is exact, so the error is the sub-sample interpolation.
    lengths = [int(0.05 * FS), int(12 * attack_ms * FS / 1000) + 10, int(12 * release_ms * FS / 1000) + 10]
    levels = np.concatenate([np.full(m, 10 ** (db / 20)) for m, db in zip(lengths, (-60, -10, -60))])
    x = np.stack([levels, levels], axis=1)
    y = compress(x, FS, threshold_db=-30.0, ratio=4.0, knee_db=0.0, attack_ms=attack_ms, release_ms=release_ms)
    reduction_db = -20 * np.log10(y[:, 0] / x[:, 0])
    a0, r0 = lengths[0], lengths[0] + lengths[1]
    attack = reduction_db[a0 - 1:r0]  # from the last sample before the step
    release = reduction_db[r0 - 1:]
    assert attack[-1] == pytest.approx(15.0, abs=1e-3) and release[-1] == pytest.approx(0.0, abs=1e-3)
    measured_attack_ms = _first_crossing(attack, 15.0 * (1 - math.exp(-1))) / FS * 1000
    measured_release_ms = _first_crossing(release, 15.0 * math.exp(-1)) / FS * 1000
    assert measured_attack_ms == pytest.approx(attack_ms, rel=0.05)
    assert measured_release_ms == pytest.approx(release_ms, rel=0.05)


def test_matches_the_paper_transcription_across_block_boundaries():
    # Music-like bursts longer than two blocks: the blocked numpy + numba kernel equals the scalar
    # transcription of the paper to float64 rounding (1e-9 relative), so blocks chain exactly.
    rng = np.random.default_rng(7)
    n = 2 * BLOCK_FRAMES + 1234
    envelope = np.repeat(10 ** (rng.uniform(-40, 0, n // 2400 + 1) / 20), 2400)[:n]
    x = rng.standard_normal((n, 2)) * envelope[:, None] * np.array([1.0, 0.3])
    settings = dict(threshold_db=-24.0, ratio=3.0, knee_db=6.0, attack_ms=5.0, release_ms=80.0, makeup_db=2.0)
    np.testing.assert_allclose(compress(x, FS, **settings), _reference(x, **settings), rtol=1e-9, atol=1e-15)


def test_stereo_linked_one_gain_for_all_channels():
    # Left loud, right quiet: the right channel gets the left's gain reduction (linked detector).
    rng = np.random.default_rng(3)
    x = rng.uniform(0.05, 1.0, (9600, 2)) * np.array([1.0, 0.01]) * rng.choice([-1.0, 1.0], (9600, 2))
    y = compress(x, FS, threshold_db=-20.0, ratio=8.0)
    np.testing.assert_allclose(y[:, 0] / x[:, 0], y[:, 1] / x[:, 1], rtol=1e-12)
    assert np.all(y[:, 1] / x[:, 1] < 1.0)  # the quiet channel is reduced too


def test_makeup_gain_below_threshold_is_exact():
    # Below the knee the reduction is exactly 0, so the output is input * 10^(makeup/20) (rounding only).
    x = 0.01 * np.random.default_rng(4).standard_normal((4800, 2))
    y = compress(x, FS, threshold_db=-10.0, ratio=4.0, makeup_db=6.0)
    np.testing.assert_allclose(y, x * 10 ** (6 / 20), rtol=1e-12)


def test_sidechain_highpass_acts_on_the_detector_only():
    # A loud 30 Hz tone under a 200 Hz side-chain high-pass hardly triggers the compressor, and the
    # 30 Hz content is not filtered out of the audio path.
    t = np.arange(FS // 2) / FS
    x = 0.9 * np.sin(2 * np.pi * 30 * t)[:, None]
    plain = compress(x, FS, threshold_db=-20.0, ratio=4.0)
    keyed = compress(x, FS, threshold_db=-20.0, ratio=4.0, sidechain_highpass_hz=200.0)
    tail = slice(FS // 4, None)
    assert np.sqrt(np.mean(plain[tail] ** 2)) < 0.4  # ~-13 dB of reduction without the high-pass
    rms_ratio_db = 20 * np.log10(np.sqrt(np.mean(keyed[tail] ** 2) / np.mean(x[tail] ** 2)))
    assert rms_ratio_db > -1.0  # 30 Hz is 36 dB down in the detector: well under the threshold


def test_silence_and_empty_input():
    assert np.array_equal(compress(np.zeros((100, 2)), FS, -20, 4), np.zeros((100, 2)))
    assert compress(np.zeros((0, 2)), FS, -20, 4).shape == (0, 2)


def test_read_only_float32_input_is_not_written():
    x = (0.5 * np.random.default_rng(5).standard_normal((5000, 2))).astype(np.float32)
    before = x.copy()
    x.setflags(write=False)
    y = compress(x, FS, threshold_db=-20.0, ratio=4.0, sidechain_highpass_hz=100.0)
    assert y.dtype == np.float64 and y.shape == x.shape and not np.shares_memory(x, y)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("kwargs,field", [
    ({"ratio": 0.5}, "ratio"), ({"ratio": np.nan}, "ratio"), ({"knee_db": -1.0}, "knee_db"),
    ({"attack_ms": 0.0}, "attack_ms"), ({"release_ms": -5.0}, "release_ms"), ({"threshold_db": np.inf}, "threshold_db"),
    ({"makeup_db": "loud"}, "makeup_db"), ({"sidechain_highpass_hz": 30000.0}, "freq_hz"),
])
def test_bad_arguments_raise_value_error_naming_the_parameter(kwargs, field):
    args = {"threshold_db": -20.0, "ratio": 4.0, **kwargs}
    with pytest.raises(ValueError, match=rf"^{field}: .*\(got"):
        compress(np.zeros((10, 2)), FS, **args)


# --- Bit-identity with the numpy formulation the compiled kernels replaced (issue 14) ----------------------
# Delivered files are hashed and cached: the compressor's speed-ups must not move a bit. The reference is
# that formulation, kept as it was: per block, numpy's detector, log and static curve, then the recursion.

def _reference_compress(audio, rate, threshold_db, ratio, knee_db=6.0, attack_ms=10.0, release_ms=100.0,
                        makeup_db=0.0, sidechain_highpass_hz=None):
    from mixbuild.stages.dsp.compressor import FLOOR_DB, time_coefficient
    from mixbuild.stages.dsp.eq import band_sos
    from mixbuild.stages.dsp.iir import initial_state, sosfilt

    frames, channels = audio.shape
    slope = 1.0 / ratio - 1.0
    attack, release = time_coefficient(attack_ms, rate), time_coefficient(release_ms, rate)
    sos = band_sos("highpass", sidechain_highpass_hz, rate) if sidechain_highpass_hz is not None else None
    sos_state = initial_state(sos, channels) if sos is not None else None
    out = np.empty((frames, channels))
    state = 0.0
    for start in range(0, frames, BLOCK_FRAMES):
        block = audio[start : start + BLOCK_FRAMES]
        detector = block if sos is None else sosfilt(sos, block, sos_state)
        level = np.abs(detector.astype(np.float64)).max(axis=1)
        level = np.log(np.maximum(level, 10.0 ** (FLOOR_DB / 20.0))) * (20.0 / math.log(10.0)) - threshold_db
        curve = np.maximum(level - 0.5 * knee_db, 0.0)
        if knee_db > 0.0:
            curve += np.square(np.clip(level + 0.5 * knee_db, 0.0, knee_db)) * (0.5 / knee_db)
        reduction = curve * -slope
        for n, x in enumerate(reduction):  # the recursion, as the compiled kernel wrote it
            coef = attack if x > state else release
            state = x + coef * (state - x)
            if state < 1e-200:
                state = 0.0
            out[start + n] = block[n].astype(np.float64) * math.exp((makeup_db - state) * (math.log(10.0) / 20.0))
    return out


@pytest.mark.parametrize("settings", [
    dict(threshold_db=-20.0, ratio=4.0),
    dict(threshold_db=-24.0, ratio=3.0, knee_db=12.0, attack_ms=1.0, release_ms=40.0, makeup_db=3.0),
    dict(threshold_db=-18.0, ratio=math.inf, knee_db=0.0, attack_ms=0.3, release_ms=300.0),
    dict(threshold_db=-30.0, ratio=1.0, makeup_db=-2.0),  # ratio 1: a -0.0 reduction, kept as it was
    dict(threshold_db=-12.0, ratio=8.0, sidechain_highpass_hz=120.0),
])
@pytest.mark.parametrize("channels,dtype", [(2, np.float32), (2, np.float64), (1, np.float64), (6, np.float32)])
def test_bit_identical_to_the_reference_formulation(settings, channels, dtype):
    rng = np.random.default_rng(channels)
    n = BLOCK_FRAMES + 5000  # two blocks: the state carries across
    envelope = np.repeat(10 ** (rng.uniform(-50, 6, n // 1200 + 1) / 20), 1200)[:n]
    x = (rng.standard_normal((n, channels)) * envelope[:, None] * 0.3).astype(dtype)
    x[1000:1200] = 0.0  # silence: the detector's floor
    ours, reference = compress(x, FS, **settings), _reference_compress(x, FS, **settings)
    np.testing.assert_array_equal(ours.view(np.uint8), reference.view(np.uint8))


@pytest.mark.parametrize("block_frames", [BLOCK_FRAMES, 4 * BLOCK_FRAMES, 8 * BLOCK_FRAMES])
def test_a_stream_in_any_multiple_of_its_block_is_the_whole_track(block_frames):
    # The stem streams in 4 compressor blocks, the buses and master in 8: the same bytes as one call.
    rng = np.random.default_rng(11)
    n = 9 * BLOCK_FRAMES + 777
    x = rng.standard_normal((n, 2)) * np.repeat(10 ** (rng.uniform(-40, 0, n // 2400 + 1) / 20), 2400)[:n, None]
    settings = dict(threshold_db=-24.0, ratio=3.0, attack_ms=5.0, release_ms=80.0, sidechain_highpass_hz=100.0)
    stream = Compressor(FS, 2, **settings)
    streamed = np.concatenate([stream.process(x[i:i + block_frames]) for i in range(0, n, block_frames)])
    np.testing.assert_array_equal(streamed.view(np.uint8), compress(x, FS, **settings).view(np.uint8))
