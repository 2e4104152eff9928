"""A realistic studio album on disk: many songs of many stems, as a band delivers them for mixing.

What makes it realistic, and why a benchmark or test wants each:

- 48 kHz / 24-bit WAV sources, mono where a real session records mono (kick, bass, vocal) and
  stereo where it records stereo (overheads, pads, keys): the bytes a real build reads.
- Silence as it comes from a studio: the lead vocal rests in the intro and during the solo with exact
  digital zeros (strip-silenced, as editors do); the solo plays only in the solo; toms play only a few
  fills; two stems enter late, one as a short file placed with `offset_s`, the other as a full-length
  file with leading zeros. Silence is where a renderer may skip work, so a benchmark must contain it.
- Routing of a real mix: a drum bus and a vocal bus (each compressed), reverb and delay sends into
  effect-return buses, the master chain (EQ, compressor, limiter) and two targets (streaming and CD).

Everything is seeded: the same plan writes the same bytes. Specs are YAML, written beside the stems
(`album.yaml`, `songs/<id>.yaml`, `stems/<id>/<stem>.wav`); nothing is written into the repository.

    from testkit.studio import StudioPlan, write_studio
    album = write_studio(Path("/tmp/studio"), StudioPlan(songs=4, stems=16, seconds=60))
    album.spec, album.song_specs, album.stem_files
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import soundfile
import yaml

RATE_HZ = 48000
LATE_ENTRY_S = 90.0
"""When the late stems enter, if the song is long enough (else at 3/4 of the song)."""


@dataclass(frozen=True)
class StudioPlan:
    """How big the album is: songs x stems x seconds, and the seed all synthesis derives from."""

    songs: int = 4
    stems: int = 16
    seconds: float = 60.0
    seed: int = 14

    @property
    def late_entry_s(self) -> float:
        """When the late stems enter: 90 s, or 3/4 of the song when the song is shorter than 120 s."""
        return min(LATE_ENTRY_S, 0.75 * self.seconds)


@dataclass(frozen=True)
class Song:
    """One song's musical facts: tempo, chord roots per bar, and its sections in seconds."""

    index: int
    seconds: float
    tempo_bpm: float
    roots_midi: tuple[int, ...]
    intro_end_s: float
    solo_start_s: float
    solo_end_s: float
    late_entry_s: float

    @property
    def id(self) -> str:
        return f"song-{self.index + 1:02d}"

    @property
    def frames(self) -> int:
        return int(round(self.seconds * RATE_HZ))

    @property
    def beat_s(self) -> float:
        return 60.0 / self.tempo_bpm


@dataclass(frozen=True)
class Album:
    """What write_studio wrote: the album spec, each song's spec, and every stem file."""

    root: Path
    spec: Path
    song_specs: list[Path]
    stem_files: list[Path]


def song_facts(plan: StudioPlan, index: int) -> Song:
    """Song `index` of the plan: its own tempo and key; intro is the first 10 %, the solo 55-70 %."""
    roots = ((57, 53, 48, 55), (50, 46, 53, 48), (52, 48, 55, 50), (45, 48, 43, 50))[index % 4]
    return Song(index=index, seconds=plan.seconds, tempo_bpm=92.0 + 7.0 * (index % 6), roots_midi=roots,
                intro_end_s=0.10 * plan.seconds, solo_start_s=0.55 * plan.seconds,
                solo_end_s=0.70 * plan.seconds, late_entry_s=plan.late_entry_s)


# ---------------------------------------------------------------------------------------- synthesis
# Every generator returns audio of the song's length, (frames,) or (frames, 2), with numpy only
# (scipy.signal costs seconds to import). Synthesis must not dominate a benchmark's wall time, so slow
# controls (pitch, formants, envelopes of phrases) are computed every BLOCK frames and held or
# interpolated, oscillators run in float32 by recurrence, and hits are added in place.

BLOCK = 240
"""Frames per control block (5 ms at 48 kHz)."""


def times_s(song: Song) -> np.ndarray:
    """The time of every frame, seconds."""
    return np.arange(song.frames) / RATE_HZ


def block_times_s(song: Song) -> np.ndarray:
    """The time of every control block's first frame, seconds."""
    return np.arange(0, song.frames, BLOCK) / RATE_HZ


def held(song: Song, per_block: np.ndarray) -> np.ndarray:
    """Block-rate values held for each block's frames (pitch steps are inaudible at 5 ms)."""
    return np.repeat(per_block, BLOCK)[: song.frames]


def interpolated(song: Song, per_block: np.ndarray) -> np.ndarray:
    """Block-rate values linearly interpolated to every frame (for envelopes: no zipper steps)."""
    return np.interp(times_s(song), block_times_s(song), per_block)


def smoothed(per_block: np.ndarray, tau_s: float) -> np.ndarray:
    """A block-rate control through a one-pole-like low-pass (a decaying-kernel convolution)."""
    taps = np.exp(-np.arange(int(5 * tau_s * RATE_HZ / BLOCK) + 1) * BLOCK / (tau_s * RATE_HZ))
    return np.convolve(per_block, taps / taps.sum())[: len(per_block)]


def midi_hz(note: np.ndarray | float) -> np.ndarray:
    """Equal-tempered frequency in Hz of MIDI note numbers."""
    return 440.0 * 2.0 ** ((np.asarray(note, dtype=float) - 69) / 12)


def decay(frames: int, tau_s: float) -> np.ndarray:
    return np.exp(-np.arange(frames) / (tau_s * RATE_HZ))


def add_hit(out: np.ndarray, hit: np.ndarray, onset_s: float, gain: float = 1.0) -> None:
    """Mix one hit into `out` at onset_s, in place (cut at the end of `out`)."""
    start = int(round(onset_s * RATE_HZ))
    if 0 <= start < len(out):
        end = min(len(out), start + len(hit))
        out[start:end] += gain * hit[: end - start]


def place(frames: int, hit: np.ndarray, onsets_s: np.ndarray, gains: np.ndarray | None = None) -> np.ndarray:
    """Copies of a (mono) hit mixed in at onset times, in a buffer of `frames`."""
    out = np.zeros(frames)
    for onset_s, gain in zip(onsets_s, np.ones(len(onsets_s)) if gains is None else gains):
        add_hit(out, hit, onset_s, gain)
    return out


def beats(song: Song, every_beats: float, offset_beats: float = 0.0) -> np.ndarray:
    """Onset times in seconds, every so many beats, over the whole song."""
    return np.arange(offset_beats * song.beat_s, song.seconds - 0.5, every_beats * song.beat_s)


def root_at(song: Song, t_s: np.ndarray) -> np.ndarray:
    """The chord root (MIDI) playing at each time: one root per bar, cycling."""
    index = (t_s // (4 * song.beat_s)).astype(int) % len(song.roots_midi)
    return np.asarray(song.roots_midi)[index]


def harmonics_of(freq_hz: np.ndarray, count: int) -> Iterator[tuple[int, np.ndarray]]:
    """(k, sin(k x phase)) for k = 1..count of a time-varying frequency; a harmonic at or above
    0.45 x the rate is zero there. The phase is accumulated in float64 and wrapped, then the
    harmonics follow Chebyshev's recurrence sin(kx) = 2 cos(x) sin((k-1)x) - sin((k-2)x) in float32:
    two multiplies a harmonic instead of a sine."""
    phase = np.mod(2 * np.pi / RATE_HZ * np.cumsum(freq_hz), 2 * np.pi).astype(np.float32)
    twice_cos = 2 * np.cos(phase)
    previous, current = np.zeros_like(phase), np.sin(phase)
    top_hz = float(np.max(freq_hz, initial=0.0))
    for k in range(1, count + 1):
        if k > 1:
            previous, current = current, twice_cos * current - previous
        if k * top_hz < 0.45 * RATE_HZ:
            yield k, current
        else:
            yield k, current * (k * freq_hz < 0.45 * RATE_HZ)


def tone(freq_hz: np.ndarray, harmonics: int, rolloff: float) -> np.ndarray:
    """A band-limited tone of time-varying frequency: harmonic k at amplitude k**-rolloff."""
    out = np.zeros(len(freq_hz), dtype=np.float32)
    for k, wave in harmonics_of(freq_hz, harmonics):
        out += wave * np.float32(k**-rolloff)
    return out


def chord_tone(song: Song, intervals: tuple[int, ...], detune: float, harmonics: int, rolloff: float,
               transpose: int = 0) -> np.ndarray:
    """The bar's chord (root + intervals, in semitones) as summed tones."""
    roots = root_at(song, block_times_s(song)) + transpose + detune
    out = np.zeros(song.frames, dtype=np.float32)
    for interval in intervals:
        out += tone(held(song, midi_hz(roots + interval)), harmonics, rolloff)
    return out


def silence_between(audio: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    """Exact digital zeros from start_s to end_s (an edited-out region)."""
    audio[int(round(start_s * RATE_HZ)): int(round(end_s * RATE_HZ))] = 0.0
    return audio


def from_late_entry(song: Song, audio: np.ndarray) -> np.ndarray:
    """Zeros before the late entry, with a 50 ms fade-in at the entry."""
    entry = int(round(song.late_entry_s * RATE_HZ))
    fade = np.minimum(1.0, np.arange(song.frames - entry) / (0.05 * RATE_HZ))
    out = np.zeros_like(audio)
    out[entry:] = audio[entry:] * (fade if audio.ndim == 1 else fade[:, None])
    return out


def kick(song: Song, rng: np.random.Generator) -> np.ndarray:
    frames = int(0.45 * RATE_HZ)
    t = np.arange(frames) / RATE_HZ
    hit = np.sin(2 * np.pi * np.cumsum(45 + 85 * np.exp(-t / 0.04)) / RATE_HZ) * decay(frames, 0.12)
    return place(song.frames, hit, beats(song, 1.0))


def snare(song: Song, rng: np.random.Generator) -> np.ndarray:
    frames = int(0.3 * RATE_HZ)
    noise = np.diff(rng.standard_normal(frames + 1))  # first difference: a bright noise
    body = np.sin(2 * np.pi * 185 * np.arange(frames) / RATE_HZ)
    return place(song.frames, 0.35 * noise * decay(frames, 0.07) + 0.4 * body * decay(frames, 0.05),
                 beats(song, 2.0, 1.0))


def hats(song: Song, rng: np.random.Generator) -> np.ndarray:
    frames = int(0.08 * RATE_HZ)
    hit = np.diff(rng.standard_normal(frames + 2), n=2) * decay(frames, 0.02)
    onsets = beats(song, 0.5)
    return place(song.frames, hit, onsets, np.where(np.arange(len(onsets)) % 2 == 0, 0.3, 0.18))


def tom(pitch_hz: float) -> Callable[[Song, np.random.Generator], np.ndarray]:
    """A tom that plays only a few fills (four hits before the verse, the solo and the last section):
    exact zeros everywhere else, as a gated tom mic is delivered."""
    def render(song: Song, rng: np.random.Generator) -> np.ndarray:
        frames = int(0.6 * RATE_HZ)
        t = np.arange(frames) / RATE_HZ
        hit = np.sin(2 * np.pi * np.cumsum(pitch_hz * (1 + 0.5 * np.exp(-t / 0.03))) / RATE_HZ) * decay(frames, 0.18)
        fill_ends_s = (song.intro_end_s, song.solo_start_s, song.solo_end_s)
        onsets = np.array([end - k * song.beat_s / 2 for end in fill_ends_s for k in (4, 3, 2, 1)])
        return place(song.frames, hit, onsets[onsets > 0], 0.6 + 0.3 * rng.random(len(onsets)))
    return render


def overheads(song: Song, rng: np.random.Generator) -> np.ndarray:
    """Stereo cymbals: a crash every four bars, with some of the kit in both sides."""
    frames = int(1.5 * RATE_HZ)
    crash = np.diff(rng.standard_normal((frames + 1, 2)), axis=0) * decay(frames, 0.5)[:, None]
    onsets = beats(song, 16.0)
    sides = np.stack([place(song.frames, crash[:, c], onsets, np.full(len(onsets), 0.25)) for c in (0, 1)], axis=1)
    return sides + 0.3 * (kick(song, rng) + snare(song, rng))[:, None]


def shaker(song: Song, rng: np.random.Generator) -> np.ndarray:
    frames = int(0.06 * RATE_HZ)
    hit = np.diff(rng.standard_normal(frames + 1)) * decay(frames, 0.015)
    onsets = beats(song, 0.25)
    return place(song.frames, hit, onsets, 0.1 + 0.1 * rng.random(len(onsets)))


def bass(song: Song, rng: np.random.Generator) -> np.ndarray:
    """The root an octave down on eighths, plucked."""
    envelope = np.exp(-(times_s(song) % (song.beat_s / 2)) / 0.18)
    return 0.45 * chord_tone(song, (0,), 0.0, 8, 1.3, transpose=-12) * envelope


def pad(song: Song, rng: np.random.Generator) -> np.ndarray:
    """A stereo pad (root, fifth, octave; each side detuned), faded in and out over the song."""
    t = block_times_s(song)
    fade = interpolated(song, np.minimum(1.0, t / 2.0) * np.clip((song.seconds - t) / 1.5, 0, 1))
    return 0.1 * np.stack([chord_tone(song, (0, 7, 12), detune, 3, 2.0) * fade for detune in (-0.06, 0.06)], axis=1)


def keys(song: Song, rng: np.random.Generator) -> np.ndarray:
    """Stereo piano-ish notes on the off-beats, the upper ones a little wider."""
    frames = int(0.9 * RATE_HZ)
    out = np.zeros((song.frames, 2))
    for i, onset_s in enumerate(beats(song, 1.0, 0.5)):
        note = int(root_at(song, np.array([onset_s]))[0]) + (0, 7, 12, 4)[i % 4] + 12
        hit = tone(np.full(frames, midi_hz(note)), 5, 1.8) * decay(frames, 0.25)
        spread = 0.15 * ((i % 4) - 1.5)
        add_hit(out[:, 0], hit, onset_s, 0.18 * (1 - spread))
        add_hit(out[:, 1], hit, onset_s, 0.18 * (1 + spread))
    return out


def guitar(detune: float) -> Callable[[Song, np.random.Generator], np.ndarray]:
    """A strummed rhythm guitar on eighths (one of a double-tracked pair: detune differs)."""
    def render(song: Song, rng: np.random.Generator) -> np.ndarray:
        strum = np.exp(-(times_s(song) % (song.beat_s / 2)) / 0.09)
        return 0.12 * chord_tone(song, (0, 7, 12), detune, 6, 1.1) * strum
    return render


def sung_line(song: Song, rng: np.random.Generator, transpose: int, formants_hz: tuple[float, ...],
              phrase_part: tuple[float, float]) -> np.ndarray:
    """A vocal-like line: a buzzy source with vibrato, harmonics lifted near the vowel's formants,
    sung during `phrase_part` (start, end fractions) of each two-bar phrase, over a mic's noise floor."""
    t = block_times_s(song)
    phrase_s = 8 * song.beat_s
    melody = np.asarray((0, 2, 3, 7, 5, 3, 2, 0))[(t // (phrase_s / 8)).astype(int) % 8]
    freq = midi_hz(root_at(song, t) + transpose + melody) * (1 + 0.006 * np.sin(2 * np.pi * 5.5 * t))
    voiced = np.zeros(song.frames, dtype=np.float32)
    for k, wave in harmonics_of(held(song, freq), 12):
        lift = 1 + 3 * np.sum([np.exp(-((k * freq - f) / (0.15 * f)) ** 2) for f in formants_hz], axis=0)
        voiced += wave * held(song, (lift / k).astype(np.float32))
    position = (t % phrase_s) / phrase_s
    sung = smoothed(((position >= phrase_part[0]) & (position < phrase_part[1])).astype(float), 0.03)
    noise_floor = 10 ** (-72 / 20) * rng.standard_normal(song.frames)  # room and preamp, between phrases
    return 0.2 * voiced * interpolated(song, sung) + noise_floor


def lead_vocal(song: Song, rng: np.random.Generator) -> np.ndarray:
    """The lead vocal: rests (exact zeros) in the intro and during the solo."""
    voice = sung_line(song, rng, 12, (700.0, 1220.0, 2600.0), (0.0, 0.75))
    return silence_between(silence_between(voice, 0.0, song.intro_end_s), song.solo_start_s, song.solo_end_s)


def backing_vocal(song: Song, rng: np.random.Generator) -> np.ndarray:
    """Backing vocals a third up in the second half of each phrase; exact zeros in intro and solo."""
    voice = sung_line(song, rng, 16, (500.0, 1500.0, 2500.0), (0.5, 0.75))
    return silence_between(silence_between(voice, 0.0, song.intro_end_s), song.solo_start_s, song.solo_end_s)


def guitar_solo(song: Song, rng: np.random.Generator) -> np.ndarray:
    """The solo: a bright, bending lead between solo_start_s and solo_end_s; exact zeros elsewhere."""
    t = block_times_s(song)
    melody = np.asarray((0, 3, 5, 7, 10, 12, 10, 7, 5, 3))[(t // (song.beat_s / 2)).astype(int) % 10]
    bend = 0.3 * np.sin(2 * np.pi * 0.5 * t)
    solo = 0.25 * tone(held(song, midi_hz(root_at(song, t) + 24 + melody + bend)), 10, 0.9)
    inside = np.zeros(song.frames, dtype=np.float32)
    start, end = int(round(song.solo_start_s * RATE_HZ)), int(round(song.solo_end_s * RATE_HZ))
    inside[start:end] = solo[start:end]
    return inside


def late_strings(song: Song, rng: np.random.Generator) -> np.ndarray:
    """A stereo string section (a major triad an octave up) swelling every two bars; from the late entry."""
    swell = interpolated(song, 0.6 + 0.4 * np.sin(2 * np.pi * block_times_s(song) / (8 * song.beat_s)) ** 2)
    sides = [chord_tone(song, (0, 4, 7), detune, 5, 1.5, transpose=12) * swell for detune in (-0.04, 0.04)]
    return from_late_entry(song, 0.08 * np.stack(sides, axis=1))


def late_arp(song: Song, rng: np.random.Generator) -> np.ndarray:
    """A stereo synth arpeggio on sixteenths, ping-ponging between the sides; from the late entry."""
    t = block_times_s(song)
    steps = (t // (song.beat_s / 4)).astype(int)
    notes = root_at(song, t) + 12 + np.asarray((0, 3, 7, 10, 12, 10, 7, 3))[steps % 8]
    line = 0.3 * tone(held(song, midi_hz(notes)), 5, 1.5) * np.exp(-(times_s(song) % (song.beat_s / 4)) / 0.06)
    right = held(song, (steps % 2).astype(float))
    return from_late_entry(song, np.stack([line * (1.0 - 0.6 * right), line * (0.4 + 0.6 * right)], axis=1))


# -------------------------------------------------------------------------------- stems and specs

@dataclass(frozen=True)
class StemRole:
    """A stem's part in the session: how to synthesise it, its channel strip, and where it enters.

    entry: "start" (from 0 s), "offset" (a short file placed at the late entry with offset_s) or
    "zeros" (a full-length file, digital zeros until the late entry)."""

    name: str
    render: Callable[[Song, np.random.Generator], np.ndarray]
    strip: dict[str, Any]
    entry: str = "start"


DRUMS, VOCALS, VERB, ECHO = "drums", "vocals", "verb", "echo"
ROLES = (  # in priority order: a smaller session keeps the first ones
    StemRole("kick", kick, {"gain_db": -3.0, "output": DRUMS, "eq": [{"type": "highpass", "freq_hz": 30}]}),
    StemRole("bass", bass, {"gain_db": -4.0, "eq": [{"type": "highpass", "freq_hz": 35}],
                            "compressor": {"threshold_db": -20, "ratio": 4, "attack_ms": 10, "release_ms": 120}}),
    StemRole("lead_vocal", lead_vocal, {
        "gain_db": -3.0, "output": VOCALS, "eq": [{"type": "highpass", "freq_hz": 100},
                                                  {"type": "peak", "freq_hz": 3000, "gain_db": 2.0, "q": 1.2}],
        "compressor": {"threshold_db": -22, "ratio": 3, "attack_ms": 5, "release_ms": 80},
        "sends": {VERB: -12.0, ECHO: -16.0}}),
    StemRole("pad", pad, {"gain_db": -9.0, "width": 1.4, "sends": {VERB: -10.0}}),
    StemRole("snare", snare, {"gain_db": -5.0, "pan": 0.1, "output": DRUMS, "sends": {VERB: -16.0}}),
    StemRole("hats", hats, {"gain_db": -12.0, "pan": -0.3, "output": DRUMS}),
    StemRole("tom_hi", tom(180.0), {"gain_db": -6.0, "pan": -0.35, "output": DRUMS}),
    StemRole("tom_lo", tom(95.0), {"gain_db": -6.0, "pan": 0.35, "output": DRUMS}),
    StemRole("overheads", overheads, {"gain_db": -10.0, "output": DRUMS, "eq": [{"type": "highpass", "freq_hz": 200}]}),
    StemRole("guitar_solo", guitar_solo, {"gain_db": -5.0, "pan": 0.2, "sends": {ECHO: -10.0, VERB: -14.0}}),
    StemRole("strings_late", late_strings, {"gain_db": -8.0, "sends": {VERB: -12.0}}, entry="offset"),
    StemRole("synth_late", late_arp, {"gain_db": -12.0, "width": 1.2}, entry="zeros"),
    StemRole("backing_vocal", backing_vocal, {"gain_db": -8.0, "pan": -0.25, "output": VOCALS,
                                              "sends": {VERB: -10.0}}),
    StemRole("keys", keys, {"gain_db": -9.0, "pan": 0.3}),
    StemRole("guitar_l", guitar(-0.05), {"gain_db": -9.0, "pan": -0.7}),
    StemRole("guitar_r", guitar(0.05), {"gain_db": -9.0, "pan": 0.7}),
    StemRole("shaker", shaker, {"gain_db": -14.0, "pan": 0.5}),
)


def roles_for(count: int) -> list[StemRole]:
    """The first `count` roles; past the list, more layers of the pitched parts (`pad_2`, `keys_2`, ...)
    each with its own seed, as a session grows by overdubs."""
    chosen = list(ROLES[:count])
    layers = [role for role in ROLES if role.entry == "start" and role.name not in ("kick", "snare")]
    while len(chosen) < count:
        base = layers[(len(chosen) - len(ROLES)) % len(layers)]
        copy_number = 2 + (len(chosen) - len(ROLES)) // len(layers)
        chosen.append(StemRole(f"{base.name}_{copy_number}", base.render, {**base.strip, "gain_db": -14.0}))
    return chosen


def stem_audio(song: Song, role: StemRole, seed: int, role_index: int) -> tuple[np.ndarray, float]:
    """(audio to write, offset_s for the spec): peak at -6 dBFS; late entries trimmed or zeroed."""
    audio = role.render(song, np.random.default_rng([seed, song.index, role_index]))
    peak = np.max(np.abs(audio))
    audio = audio * (0.5 / peak) if peak > 0 else audio
    entry_frame = int(round(song.late_entry_s * RATE_HZ))
    if role.entry == "offset":
        return audio[entry_frame:], song.late_entry_s
    if role.entry == "zeros":
        audio[:entry_frame] = 0.0
    return audio, 0.0


def write_wav(path: Path, audio: np.ndarray) -> None:
    """24-bit PCM WAV at 48 kHz, via a temp file so that a killed run never leaves half a stem."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    soundfile.write(str(tmp), audio, RATE_HZ, subtype="PCM_24", format="WAV")
    os.replace(tmp, path)


def song_spec(song: Song, stems: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A song's spec: its stems, the drum and vocal buses, and the reverb and delay returns."""
    return {"title": f"Song {song.index + 1:02d}", "isrc": f"XXA01{26:02d}{song.index + 1:05d}",
            "tempo_bpm": song.tempo_bpm, "stems": stems, "buses": {
                DRUMS: {"gain_db": -1.0, "compressor": {"threshold_db": -14, "ratio": 2.5, "attack_ms": 15}},
                VOCALS: {"gain_db": -0.5, "eq": [{"type": "high_shelf", "freq_hz": 9000, "gain_db": 1.0}],
                         "compressor": {"threshold_db": -18, "ratio": 2, "attack_ms": 8}},
                VERB: {"reverb": {"decay_s": 2.2, "predelay_ms": 25, "damping": 0.5},
                       "eq": [{"type": "highpass", "freq_hz": 180}]},
                ECHO: {"delay": {"beats": 0.75, "feedback": 0.35, "highcut_hz": 4000}, "output": VERB},
            }}


def album_spec(plan: StudioPlan, song_files: list[str]) -> dict[str, Any]:
    """The album: its songs in order, the master chain (EQ, compressor, limiter), streaming and CD."""
    return {"title": f"Studio Album {len(song_files)}x{plan.stems}x{plan.seconds:g}s", "artist": "The Scale Band",
            "sample_rate": RATE_HZ, "songs": song_files,
            "master": {"eq": [{"type": "low_shelf", "freq_hz": 90, "gain_db": 0.5},
                              {"type": "high_shelf", "freq_hz": 9000, "gain_db": 0.8}],
                       "compressor": {"threshold_db": -16.0, "ratio": 1.5, "attack_ms": 30, "release_ms": 250},
                       "limiter": {"ceiling_dbtp": -1.0, "release_ms": 120, "lookahead_ms": 5},
                       "album_loudness": "album"},
            "targets": {"streaming": {"preset": "streaming"}, "cd": {"preset": "cd"}}}


def write_yaml(path: Path, data: dict[str, Any]) -> None:
    """Write a spec as YAML (block style, keys in the order given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=120))


def write_song(root: Path, plan: StudioPlan, index: int) -> tuple[Path, list[Path]]:
    """Synthesise song `index`'s stems under root/stems/<id>/ and write root/songs/<id>.yaml;
    returns (the song spec, its stem files)."""
    song = song_facts(plan, index)
    stems: dict[str, dict[str, Any]] = {}
    files: list[Path] = []
    for role_index, role in enumerate(roles_for(plan.stems)):
        path = root / "stems" / song.id / f"{role.name}.wav"
        audio, offset_s = stem_audio(song, role, plan.seed, role_index)
        write_wav(path, audio)
        stems[role.name] = {"file": f"../stems/{song.id}/{role.name}.wav", **role.strip,
                            **({"offset_s": offset_s} if offset_s else {})}
        files.append(path)
    spec = root / "songs" / f"{song.id}.yaml"
    write_yaml(spec, song_spec(song, stems))
    return spec, files


def write_album(root: Path, plan: StudioPlan, song_specs: list[Path], name: str = "album.yaml") -> Path:
    """An album spec at root/name listing these songs in order (a subset makes a smaller album over
    the same song specs and stems)."""
    spec = root / name
    write_yaml(spec, album_spec(plan, [str(song.relative_to(root)) for song in song_specs]))
    return spec


def write_studio(root: Path, plan: StudioPlan, workers: int = 1) -> Album:
    """Synthesise every stem of the plan under `root` (songs in parallel on `workers` processes)
    and write the song specs and root/album.yaml; returns what was written."""
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            songs = list(pool.map(write_song, [root] * plan.songs, [plan] * plan.songs, range(plan.songs)))
    else:
        songs = [write_song(root, plan, index) for index in range(plan.songs)]
    song_specs = [spec for spec, _ in songs]
    return Album(root=root, spec=write_album(root, plan, song_specs), song_specs=song_specs,
                 stem_files=[path for _, files in songs for path in files])
