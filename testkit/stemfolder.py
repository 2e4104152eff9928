"""A DAW's "export stems to a folder", synthesised: an L/R pair, a stereo overhead, broadcast-WAV stems with a
time reference (ffmpeg writes the bext chunk), a 4-channel file init must skip, and a text file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import soundfile

SR = 48000


def write_wav(path: Path, channels: int = 1, seconds: float = 1.0, freq_hz: float = 220.0,
              bext_s: float | None = None) -> None:
    """A 24-bit sine stem; with ``bext_s``, a broadcast WAV whose time reference is that many seconds."""
    t = np.arange(int(seconds * SR)) / SR
    audio = np.stack([0.2 * np.sin(2 * np.pi * freq_hz * (1 + c / 10) * t) for c in range(channels)], axis=1)
    soundfile.write(str(path), audio, SR, subtype="PCM_24")
    if bext_s is not None:
        stamped = path.with_name("stamped.wav")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(path), "-c:a", "pcm_s24le", "-write_bext", "1",
                        "-metadata", f"time_reference={round(bext_s * SR)}", str(stamped)], check=True)
        stamped.replace(path)


def session_folder(folder: Path) -> Path:
    """Eight files as a session export: Kick.L/Kick.R, Snare, OH (stereo), Lead Vox at 3600 s and BV_1 at
    3602 s (bext), Bass DI, a 4-channel Ambisonic.wav, and notes.txt."""
    folder.mkdir(parents=True)
    write_wav(folder / "Kick.L.wav")
    write_wav(folder / "Kick.R.wav", freq_hz=230.0)
    write_wav(folder / "Snare.wav", freq_hz=300.0)
    write_wav(folder / "OH.wav", channels=2)
    write_wav(folder / "Lead Vox.wav", freq_hz=440.0, bext_s=3600.0)
    write_wav(folder / "BV_1.wav", freq_hz=550.0, bext_s=3602.0)
    write_wav(folder / "Bass DI.wav", freq_hz=55.0)
    write_wav(folder / "Ambisonic.wav", channels=4)
    (folder / "notes.txt").write_text("session notes")
    return folder
