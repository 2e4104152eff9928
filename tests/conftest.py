"""Shared fixtures: demo stems, a tiny valid stem, a small editable album project, ffmpeg's meter."""

from __future__ import annotations

from pathlib import Path

import os
import re
import shutil
import subprocess

import numpy as np
import pytest
import soundfile
import yaml

from pipeline import api

from pipeline.demo_stems import write_demo_stems

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"


@pytest.fixture(scope="session")
def demo_stems() -> Path:
    """configs/demo/stems, written deterministically if missing (git-ignored)."""
    stems = CONFIGS / "demo" / "stems"
    write_demo_stems(stems)
    return stems


@pytest.fixture()
def tiny_wav(tmp_path: Path) -> Path:
    """A 0.5 s stereo 48 kHz 24-bit WAV: enough for specs that only need a decodable stem."""
    path = tmp_path / "tiny.wav"
    t = np.arange(24000) / 48000
    soundfile.write(str(path), np.stack([np.sin(2 * np.pi * 440 * t)] * 2, axis=1) * 0.25, 48000,
                    subtype="PCM_24")
    return path


SR = 48000


def write_stem(path: Path, freq_hz: float, seconds: float = 2.0, seed: int = 0) -> None:
    """A decaying tone plus a little noise, written as 24-bit WAV."""
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    audio = 0.3 * np.sin(2 * np.pi * freq_hz * t) * np.exp(-t / 1.5) + 0.01 * rng.standard_normal(t.size)
    soundfile.write(str(path), audio, SR, subtype="PCM_24")


def song_spec(name: str) -> dict:
    return {"title": name.title(), "stems": {
        "kick": {"file": f"stems/{name}-kick.wav", "gain_db": -3.0, "output": "drums"},
        "bass": {"file": f"stems/{name}-bass.wav", "gain_db": -4.0,
                 "compressor": {"threshold_db": -2.0, "ratio": 2.0, "knee_db": 0.0}},
        "lead": {"file": f"stems/{name}-lead.wav", "pan": 0.2, "sends": {"verb": -12.0}},
    }, "buses": {"drums": {"gain_db": -1.0}, "verb": {"reverb": {"decay_s": 0.4}}}}


class Project:
    """An album on disk that tests edit and build, with its own cache and output dir."""

    def __init__(self, root: Path, mode: str = "track"):
        self.root = root
        (root / "stems").mkdir(parents=True)
        for i, name in enumerate(("one", "two")):
            for j, (stem, freq) in enumerate((("kick", 60.0), ("bass", 110.0), ("lead", 440.0))):
                write_stem(root / "stems" / f"{name}-{stem}.wav", freq * (1 + i / 10), seed=10 * i + j)
        self.spec = {"title": "Test Album", "artist": "Tester", "sample_rate": SR,
                     "master": {"album_loudness": mode, "compressor": {"threshold_db": -20, "ratio": 1.5}},
                     "targets": {"streaming": {"preset": "streaming"}},
                     "songs": [song_spec("one"), song_spec("two")]}
        self.path = root / "album.yaml"
        self.save()

    def save(self, text: str | None = None) -> None:
        self.path.write_text(text if text is not None else yaml.safe_dump(self.spec, sort_keys=False))

    def build(self, jobs: int = 1, out: str = "build", **kw) -> api.Report:
        return api.build(self.path, cache_dir=self.root / "cache", out_dir=self.root / out, jobs=jobs, **kw)

    def plan(self):
        return {e.id: e for e in api.plan(self.path, cache_dir=self.root / "cache")}


@pytest.fixture()
def project(tmp_path) -> Project:
    """A track-mode two-song album to edit and rebuild."""
    return Project(tmp_path / "proj")


@pytest.fixture()
def make_project(tmp_path):
    """Build a Project in a chosen loudness mode ("track" or "album")."""
    return lambda mode: Project(tmp_path / f"proj-{mode}", mode=mode)


def measure_with_ffmpeg(path: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) by ffmpeg's ebur128 filter: an independent implementation."""
    if shutil.which("ffmpeg") is None:
        if os.environ.get("CI"):
            pytest.fail("ffmpeg is missing: .ci/run installs it")
        pytest.skip("ffmpeg not installed")
    out = subprocess.run(["ffmpeg", "-nostats", "-hide_banner", "-i", str(path), "-filter_complex",
                          "ebur128=peak=true", "-f", "null", "-"], capture_output=True, text=True).stderr
    summary = out[out.rindex("Summary:"):]
    lufs = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
    peak = float(re.search(r"Peak:\s+(-?[\d.inf]+) dBFS", summary).group(1))
    return lufs, peak


@pytest.fixture()
def ffmpeg_meter():
    """ffmpeg's loudness and true-peak meter; fails (not skips) in CI when ffmpeg is missing."""
    return measure_with_ffmpeg
