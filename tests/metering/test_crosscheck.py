"""Agreement with independent meters on music-like material: pyloudnorm (DeMan filters) and ffmpeg ebur128."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
import soundfile

from mixbuild.stages.dsp.loudness import integrated_lufs, measure
from mixbuild.stages.dsp.truepeak import true_peak_dbtp

from .signals import ffmpeg_ebur128, music_like


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
@pytest.mark.parametrize("seed", [0, 1])
def test_pyloudnorm_within_0_1_lu(rate, seed):
    x = music_like(20.0, rate, seed)
    theirs = pyloudnorm.Meter(rate, filter_class="DeMan").integrated_loudness(x)
    assert integrated_lufs(x, rate) == pytest.approx(theirs, abs=0.1)


def test_pyloudnorm_on_level_steps():
    """Gating matters here: a loud and a much quieter half."""
    x = music_like(20.0, 48000, 2)
    x[: x.shape[0] // 2] *= 0.05
    theirs = pyloudnorm.Meter(48000, filter_class="DeMan").integrated_loudness(x)
    assert integrated_lufs(x, 48000) == pytest.approx(theirs, abs=0.1)


@pytest.mark.parametrize("rate", [44100, 48000])
@pytest.mark.parametrize("seed", [0, 1])
def test_ffmpeg_integrated_and_true_peak_within_0_1(rate, seed, tmp_path):
    x = music_like(20.0, rate, seed).astype(np.float32)
    path = tmp_path / "music.wav"
    soundfile.write(str(path), x, rate, subtype="FLOAT")
    theirs = ffmpeg_ebur128(path)  # figures printed to 0.1
    report = measure(x, rate)
    assert report.integrated_lufs == pytest.approx(theirs["I"], abs=0.1)
    assert report.true_peak_dbtp == pytest.approx(theirs["Peak"], abs=0.1)


def test_ffmpeg_loudness_range_within_1_lu(tmp_path):
    x = music_like(20.0, 48000, 3)
    x[: x.shape[0] // 2] *= 0.3
    path = tmp_path / "steps.wav"
    soundfile.write(str(path), x.astype(np.float32), 48000, subtype="FLOAT")
    assert measure(x, 48000, true_peak=False).lra_lu == pytest.approx(ffmpeg_ebur128(path)["LRA"], abs=1.0)


def test_ffmpeg_true_peak_of_a_hot_master(tmp_path):
    """Boosted +10 dB and clipped: many inter-sample overs."""
    x = np.clip(music_like(20.0, 48000, 4) * 10 ** (10 / 20), -1, 1).astype(np.float32)
    path = tmp_path / "hot.wav"
    soundfile.write(str(path), x, 48000, subtype="FLOAT")
    assert true_peak_dbtp(x, 48000) == pytest.approx(ffmpeg_ebur128(path)["Peak"], abs=0.1)
