"""Deterministic synthesis of the demo album's stems: drums, bass, pads, a vocal-like lead.

No audio lives in git; `mixbuild demo` (and the tests) write these files from code.
Same code, same bytes: every generator is seeded and written as 24-bit PCM WAV.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from numpy.typing import ArrayLike
from scipy import signal

SONG_SECONDS = 24.0


@dataclass(frozen=True)
class SongPlan:
    """What one demo song plays: tempo, chord roots (MIDI) per bar, and its stems."""

    name: str
    tempo_bpm: float
    roots_midi: tuple[int, ...]
    stems: tuple[str, ...]
    seed: int


SONGS = (
    SongPlan("opening", 100.0, (57, 53, 48, 55), ("kick", "snare", "hats", "bass", "pad", "lead", "keys"), 1),
    SongPlan("night-drive", 118.0, (50, 46, 53, 48),
             ("kick", "snare", "hats", "bass", "arp", "pad", "lead", "perc"), 2),
    SongPlan("last-light", 84.0, (52, 48, 55, 50), ("kick", "snare", "bass", "keys", "pad", "lead"), 3),
)
STEM_RATES_HZ = {"keys": 44100}
"""Stems written at a rate other than the album's, so the demo exercises resampling."""


def midi_hz(note: ArrayLike) -> np.ndarray:
    """Equal-tempered frequency in Hz of a MIDI note number (scalar or array)."""
    return 440.0 * 2.0 ** ((np.asarray(note, dtype=float) - 69) / 12)


def _decay(n: int, sr: int, tau_s: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (tau_s * sr))


def _place(length: int, hit: np.ndarray, onsets_s: np.ndarray, sr: int,
           gains: np.ndarray | None = None) -> np.ndarray:
    """Mix copies of a hit at onset times (seconds) into a buffer of `length` frames."""
    out = np.zeros(length)
    gains = np.ones(len(onsets_s)) if gains is None else gains
    for t, g in zip(onsets_s, gains):
        start = int(round(t * sr))
        end = min(length, start + len(hit))
        if start < length:
            out[start:end] += g * hit[: end - start]
    return out


def _beats(plan: SongPlan, every_beats: float, offset_beats: float = 0.0) -> np.ndarray:
    beat_s = 60.0 / plan.tempo_bpm
    return np.arange(offset_beats * beat_s, SONG_SECONDS - 0.5, every_beats * beat_s)


def _root_at(plan: SongPlan, t_s: np.ndarray) -> np.ndarray:
    bar_s = 4 * 60.0 / plan.tempo_bpm
    index = (t_s // bar_s).astype(int) % len(plan.roots_midi)
    return np.asarray(plan.roots_midi)[index]


def _kick(plan: SongPlan, sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    k = int(0.45 * sr)
    t = np.arange(k) / sr
    freq = 45 + 85 * np.exp(-t / 0.04)
    hit = np.sin(2 * np.pi * np.cumsum(freq) / sr) * _decay(k, sr, 0.12)
    return _place(n, hit, _beats(plan, 1.0), sr)


def _snare(plan: SongPlan, sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    k = int(0.3 * sr)
    noise = signal.sosfilt(signal.butter(2, [900, 6000], "bandpass", fs=sr, output="sos"), rng.standard_normal(k))
    tone = np.sin(2 * np.pi * 185 * np.arange(k) / sr)
    hit = (0.5 * noise * _decay(k, sr, 0.07) + 0.4 * tone * _decay(k, sr, 0.05))
    return _place(n, hit, _beats(plan, 2.0, 1.0), sr)


def _hats(plan: SongPlan, sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    k = int(0.08 * sr)
    hit = signal.sosfilt(signal.butter(4, 7000, "highpass", fs=sr, output="sos"), rng.standard_normal(k))
    onsets = _beats(plan, 0.5)
    gains = np.where(np.arange(len(onsets)) % 2 == 0, 0.35, 0.2)
    return _place(n, hit * _decay(k, sr, 0.02), onsets, sr, gains)


def _perc(plan: SongPlan, sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    k = int(0.12 * sr)
    hit = np.sin(2 * np.pi * 420 * np.arange(k) / sr) * _decay(k, sr, 0.03)
    onsets = _beats(plan, 0.75, 0.5)
    return _place(n, hit, onsets, sr, 0.3 + 0.2 * rng.random(len(onsets)))


def _tone(freq_hz: np.ndarray, sr: int, harmonics: int, rolloff: float) -> np.ndarray:
    """A band-limited tone of time-varying frequency: harmonics with amplitude k**-rolloff."""
    phase = 2 * np.pi * np.cumsum(freq_hz) / sr
    out = np.zeros_like(phase)
    for k in range(1, harmonics + 1):
        out += np.where(k * freq_hz < 0.45 * sr, np.sin(k * phase) / k**rolloff, 0.0)
    return out


def _bass(plan: SongPlan, sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sr
    freq = midi_hz(_root_at(plan, t) - 12)
    eighth = 30.0 / plan.tempo_bpm
    env = np.exp(-(t % eighth) / 0.18)
    return 0.45 * _tone(freq, sr, 8, 1.3) * env


def _pad(plan: SongPlan, sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sr
    roots = _root_at(plan, t)
    channels = []
    for detune in (-0.06, 0.06):
        voice = sum(_tone(midi_hz(roots + iv + detune), sr, 4, 2.0)
                    for iv in (0, 3, 7, 12))
        channels.append(voice)
    fade = np.minimum(1.0, t / 2.0) * np.minimum(1.0, (SONG_SECONDS - t) / 1.5).clip(0)
    return 0.08 * np.stack(channels, axis=1) * fade[:, None]


def _keys(plan: SongPlan, sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    k = int(0.9 * sr)
    onsets = _beats(plan, 1.0, 0.5)
    out = np.zeros(n)
    for i, t0 in enumerate(onsets):
        note = int(_root_at(plan, np.array([t0]))[0]) + (0, 7, 12, 4)[i % 4] + 12
        hit = _tone(np.full(k, midi_hz(note)), sr, 6, 1.8) * _decay(k, sr, 0.25)
        out += _place(n, hit, np.array([t0]), sr, np.array([0.18]))
    return out


def _arp(plan: SongPlan, sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    k = int(0.25 * sr)
    onsets = _beats(plan, 0.25)
    out = np.zeros(n)
    pattern = (0, 3, 7, 10, 12, 10, 7, 3)
    for i, t0 in enumerate(onsets):
        note = int(_root_at(plan, np.array([t0]))[0]) + pattern[i % 8] + 12
        hit = _tone(np.full(k, midi_hz(note)), sr, 5, 1.5) * _decay(k, sr, 0.06)
        out += _place(n, hit, np.array([t0]), sr, np.array([0.12]))
    return out


def _lead(plan: SongPlan, sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """A vocal-like line: a buzzy source with vibrato through three vowel formants."""
    t = np.arange(n) / sr
    phrase_s = 8 * 60.0 / plan.tempo_bpm
    step = (t // (phrase_s / 8)).astype(int)
    melody = np.asarray((0, 2, 3, 7, 5, 3, 2, 0))[step % 8]
    note = _root_at(plan, t) + 12 + melody
    freq = midi_hz(note) * (1 + 0.006 * np.sin(2 * np.pi * 5.5 * t))
    source = _tone(freq, sr, 30, 1.0)
    voiced = sum(g * signal.sosfilt(signal.butter(2, [f * 0.85, f * 1.15], "bandpass", fs=sr, output="sos"), source)
                 for f, g in ((700, 1.0), (1220, 0.5), (2600, 0.25)))
    gate = ((t % phrase_s) < 0.75 * phrase_s) & (t > 2.0)
    env = signal.sosfilt(signal.butter(1, 8, fs=sr, output="sos"), gate.astype(float))
    return 0.6 * voiced * env


GENERATORS = {"kick": _kick, "snare": _snare, "hats": _hats, "perc": _perc, "bass": _bass,
              "pad": _pad, "keys": _keys, "arp": _arp, "lead": _lead}


def synth_stem(plan: SongPlan, stem: str) -> tuple[np.ndarray, int]:
    """One stem as (frames, channels) float64 at its rate; peak normalised to -6 dBFS."""
    sr = STEM_RATES_HZ.get(stem, 48000)
    rng = np.random.default_rng([plan.seed, sorted(GENERATORS).index(stem)])
    audio = GENERATORS[stem](plan, sr, int(SONG_SECONDS * sr), rng)
    audio = audio[:, None] if audio.ndim == 1 else audio
    return audio * (0.5 / np.max(np.abs(audio))), sr


def write_demo_stems(stems_dir: Path) -> list[Path]:
    """Write every demo stem as `stems_dir/<song>/<stem>.wav` (skipping files already present)."""
    written = []
    for plan in SONGS:
        for stem in plan.stems:
            path = stems_dir / plan.name / f"{stem}.wav"
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            audio, sr = synth_stem(plan, stem)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            soundfile.write(str(tmp), audio, sr, subtype="PCM_24", format="WAV")
            os.replace(tmp, path)
            written.append(path)
    return written
