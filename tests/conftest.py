"""Shared fixtures: the demo stems (synthesised once per checkout) and a tiny valid stem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

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
