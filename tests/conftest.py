"""Shared fixtures over testkit's helpers: demo stems, a tiny valid stem, a small editable album, ffmpeg's meter."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile

from mixbuild.pipeline.demo_stems import write_demo_stems
from testkit.diskfull import try_tmpfs, umount
from testkit.ffmpeg import ebur128
from testkit.project import Project
from testkit.proc import REPO

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


@pytest.fixture()
def project(tmp_path) -> Project:
    """A track-mode two-song album to edit and rebuild."""
    return Project(tmp_path / "proj")


@pytest.fixture()
def make_project(tmp_path):
    """Build a Project in a chosen loudness mode ("track" or "album")."""
    return lambda mode: Project(tmp_path / f"proj-{mode}", mode=mode)


def measure_with_ffmpeg(path: Path) -> tuple[float, float]:
    """testkit's ffmpeg meter, skipped where ffmpeg is missing (failed in CI, which installs it)."""
    if shutil.which("ffmpeg") is None:
        if os.environ.get("CI"):
            pytest.fail("ffmpeg is missing: .ci/run installs it")
        pytest.skip("ffmpeg not installed")
    return ebur128(path)


@pytest.fixture()
def ffmpeg_meter():
    """ffmpeg's loudness and true-peak meter: (integrated LUFS, true peak dBTP) of a file."""
    return measure_with_ffmpeg


@pytest.fixture()
def tmpfs(tmp_path):
    """mount(size) -> a fresh tmpfs of that size (e.g. "4m"), unmounted after the test; the test is skipped
    where mount is not permitted (not root)."""
    mounted = []

    def mount(size: str) -> Path:
        mnt = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
        if not try_tmpfs(mnt, size):
            pytest.skip("mount -t tmpfs not permitted here")
        mounted.append(mnt)
        return mnt

    yield mount
    for mnt in mounted:
        umount(mnt)
