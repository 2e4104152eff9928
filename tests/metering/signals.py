"""Test signals synthesised from the EBU Tech 3341 / 3342 definitions, music-like material, and an ffmpeg probe."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy import signal


def sine(level_dbfs: float, duration_s: float, sample_rate_hz: float = 48000, freq_hz: float = 1000.0,
         phase_deg: float = 0.0, channels: int = 2) -> np.ndarray:
    """Sine of peak level_dbfs on every channel, shape (round(duration_s*fs), channels)."""
    frames = int(round(duration_s * sample_rate_hz))
    t = np.arange(frames) / sample_rate_hz
    mono = 10.0 ** (level_dbfs / 20.0) * np.sin(2 * np.pi * freq_hz * t + np.deg2rad(phase_deg))
    return np.repeat(mono[:, None], channels, axis=1)


def silence(duration_s: float, sample_rate_hz: float = 48000, channels: int = 2) -> np.ndarray:
    return np.zeros((int(round(duration_s * sample_rate_hz)), channels))


def sequence(*parts: np.ndarray) -> np.ndarray:
    return np.concatenate(parts, axis=0)


def with_fades(audio: np.ndarray, fade_frames: int) -> np.ndarray:
    """Raised-cosine fade-in and fade-out (a true-peak meter rings on a hard onset, as real converters do)."""
    out = np.array(audio, dtype=np.float64, copy=True)
    ramp = np.sin(np.linspace(0.0, np.pi / 2, fade_frames)) ** 2
    out[:fade_frames] *= ramp[:, None]
    out[-fade_frames:] *= ramp[::-1, None]
    return out


def music_like(duration_s: float = 20.0, sample_rate_hz: float = 48000, seed: int = 0) -> np.ndarray:
    """Stereo 'music': plucked harmonic notes, a kick, high-passed noise hats, verse/chorus level steps; peak 0.5."""
    rng = np.random.default_rng(seed)
    fs = sample_rate_hz
    frames = int(round(duration_s * fs))
    t = np.arange(frames) / fs
    out = np.zeros((frames, 2))
    notes = [110.0, 130.8, 146.8, 164.8, 196.0, 220.0, 261.6, 293.7, 329.6, 392.0, 440.0, 523.3]
    onset = 0.0
    while onset < duration_s - 0.5:
        f0 = notes[rng.integers(len(notes))]
        start = int(onset * fs)
        stop = min(frames, start + int(rng.uniform(0.3, 1.5) * fs))
        tt = np.arange(stop - start) / fs
        envelope = np.minimum(tt / 0.005, 1.0) * np.exp(-tt * rng.uniform(1.5, 5.0))
        tone = sum((0.6 / k) * np.sin(2 * np.pi * f0 * k * tt + rng.uniform(0, 2 * np.pi))
                   for k in range(1, 8) if f0 * k < 0.45 * fs)
        pan = rng.uniform(0.2, 0.8)
        out[start:stop, 0] += tone * envelope * (1 - pan) * 0.5
        out[start:stop, 1] += tone * envelope * pan * 0.5
        onset += rng.uniform(0.15, 0.6)
    tt = np.arange(int(0.25 * fs)) / fs
    kick = 0.7 * np.sin(2 * np.pi * (50 * tt + 8 * (1 - np.exp(-15 * tt)))) * np.exp(-12 * tt)
    for beat in np.arange(0.0, duration_s - 0.3, 0.5):
        start = int(beat * fs)
        out[start:start + kick.size] += kick[:, None]
    hats = signal.sosfilt(signal.butter(4, 6000, "high", fs=fs, output="sos"), rng.standard_normal((frames, 2)), axis=0)
    gate = (np.sin(2 * np.pi * 4 * t) > 0.3) * np.exp(-((t * 8) % 1) * 6)
    out += 0.15 * hats * gate[:, None]
    out *= (0.75 + 0.5 * (np.sin(2 * np.pi * t / (duration_s / 2)) > 0))[:, None]
    out = with_fades(out, int(0.05 * fs))
    return out / np.abs(out).max() * 0.5


def ffmpeg_or_skip() -> str:
    """Path of ffmpeg; without it the test fails when CI is set (the independent meter is required) and skips otherwise."""
    path = shutil.which("ffmpeg")
    if path is None:
        message = "ffmpeg not found on PATH: install it (apt-get install ffmpeg); it is the independent loudness meter"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def ffmpeg_ebur128(path: Path) -> dict[str, float]:
    """ffmpeg `ebur128=peak=true` summary of a file: I (LUFS), LRA (LU) and true Peak (dBTP)."""
    result = subprocess.run(
        [ffmpeg_or_skip(), "-nostats", "-hide_banner", "-i", str(path), "-filter_complex", "ebur128=peak=true",
         "-f", "null", "-"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    summary = result.stderr[result.stderr.rfind("Summary:"):]
    figures = {}
    for key in ("I", "LRA", "Peak"):
        match = re.search(rf"^\s*{key}:\s+(-?inf|-?[\d.]+)", summary, re.MULTILINE)
        assert match, f"no {key}: in ffmpeg summary:\n{summary}"
        figures[key] = float(match.group(1))
    return figures
