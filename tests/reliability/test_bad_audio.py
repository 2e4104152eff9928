"""Bad audio stems: each gives a correct render, or one clear line naming the file and the reason.

Every case builds a one-song spec around one (or two) odd stem(s) through the real CLI
(`typer.testing.CliRunner` on `pipeline.cli.app`) and accepts exactly two outcomes:

* exit 0, and every delivered audio file decodes and is finite (`np.isfinite`), or
* exit 1 (render failure) / 2 (spec error) with exactly one line, naming the file and the reason;

never a traceback, never `internal error`, never an uncaught exception inside the runner.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile
import yaml

from testkit.cli import invoke as run, message_lines
from testkit.project import SR


# --------------------------------------------------------------------------- helpers

def tone(freq_hz: float, seconds: float, rate: int = SR, channels: int = 1, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    mono = amp * np.sin(2 * np.pi * freq_hz * t)
    return np.stack([mono] * channels, axis=1)


def song(tmp_path: Path, stems: dict[str, Path], tail_s: float = 0.1) -> Path:
    spec = tmp_path / "song.yaml"
    spec.write_text(yaml.safe_dump({
        "title": "Bad Audio", "tail_s": tail_s,
        "stems": {name: {"file": str(path)} for name, path in stems.items()},
    }))
    return spec


def build(tmp_path: Path, spec: Path):
    return run("build", spec, "--cache", tmp_path / "cache", "--out", tmp_path / "out", "-j", "1")


def delivered_audio(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.suffix in (".wav", ".flac", ".aiff"))


def assert_clean_render(result, out: Path) -> list[Path]:
    """Exit 0 and every delivered audio file decodes and holds finite samples."""
    assert result.exit_code == 0, result.output
    files = delivered_audio(out)
    assert files, "nothing delivered"
    for path in files:
        audio, _ = soundfile.read(str(path), always_2d=True)
        assert audio.shape[0] > 0, path
        assert np.isfinite(audio).all(), path
    return files


def assert_one_clear_line(result, path: Path, reason: str, codes=(1, 2)) -> str:
    """Exit 1 or 2 with exactly one line that names the file and says why."""
    assert result.exit_code in codes, result.output
    lines = message_lines(result.output)
    assert len(lines) == 1, result.output
    assert str(path) in lines[0] or path.name in lines[0], lines[0]
    assert reason in lines[0], lines[0]
    return lines[0]


def song_track(out: Path) -> tuple[np.ndarray, int]:
    """The delivered song file of the streaming target (not the sequenced album file)."""
    tracks = [p for p in (out / "streaming").glob("01 - *.wav")]
    assert len(tracks) == 1, list((out / "streaming").iterdir())
    audio, rate = soundfile.read(str(tracks[0]), always_2d=True)
    return audio, rate


def peak_hz(audio: np.ndarray, rate: int) -> float:
    mono = audio.mean(axis=1)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(mono.size)))
    return float(np.fft.rfftfreq(mono.size, 1 / rate)[np.argmax(spectrum)])


# --------------------------------------------------------------------------- files that do not decode

def test_zero_length_file(tmp_path):
    stem = tmp_path / "empty.wav"
    stem.write_bytes(b"")
    spec = song(tmp_path, {"x": stem})
    assert_one_clear_line(run("validate", spec), stem, "does not decode as audio", codes=(2,))
    assert_one_clear_line(build(tmp_path, spec), stem, "does not decode as audio", codes=(2,))
    assert not (tmp_path / "out" / "streaming").exists()


def test_text_file_renamed_to_wav(tmp_path):
    stem = tmp_path / "notes.wav"
    stem.write_text("this is not audio\n" * 50)
    spec = song(tmp_path, {"x": stem})
    assert_one_clear_line(run("validate", spec), stem, "does not decode as audio", codes=(2,))
    assert_one_clear_line(build(tmp_path, spec), stem, "does not decode as audio", codes=(2,))


def test_header_only_wav_has_no_frames(tmp_path):
    stem = tmp_path / "header-only.wav"
    soundfile.write(str(stem), np.zeros((0, 2)), SR, subtype="PCM_16")
    spec = song(tmp_path, {"x": stem})
    assert_one_clear_line(run("validate", spec), stem, "has no audio frames", codes=(2,))


def test_truncated_wav_renders_what_is_there(tmp_path):
    """A WAV whose header promises 2 s but whose data stops after 1 s.

    Decided behaviour: libsndfile clamps the frame count to the bytes actually present, so the
    stem is valid and renders as the 1 s that is there (a partial last frame is dropped). The
    song therefore lasts ~1 s + tail, and the delivered file is finite. This matches what DAWs do
    with a recording cut short by a crash; refusing it would lose the usable audio.
    """
    full = tmp_path / "full.wav"
    soundfile.write(str(full), tone(1000, 2.0, channels=2), SR, subtype="PCM_24")
    data = full.read_bytes()
    stem = tmp_path / "truncated.wav"
    stem.write_bytes(data[: len(data) // 2 + 1])  # half the data and one stray byte of a frame
    header_frames = struct.unpack("<I", data[40:44])[0] // 6
    assert header_frames == 2 * SR  # the header still says 2 s
    assert soundfile.info(str(stem)).frames < SR * 1.01

    spec = song(tmp_path, {"x": stem}, tail_s=0.1)
    assert run("validate", spec).exit_code == 0
    assert_clean_render(build(tmp_path, spec), tmp_path / "out")
    audio, rate = song_track(tmp_path / "out")
    assert rate == SR
    assert 0.95 * SR < audio.shape[0] < 1.3 * SR
    assert abs(peak_hz(audio, rate) - 1000) < 5


# --------------------------------------------------------------------------- non-finite samples

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_float_samples_refused(tmp_path, bad):
    audio = tone(440, 0.5, channels=2).astype(np.float32)
    audio[1000, 0] = bad
    stem = tmp_path / "float.wav"
    soundfile.write(str(stem), audio, SR, subtype="FLOAT")
    spec = song(tmp_path, {"x": stem})
    line = assert_one_clear_line(build(tmp_path, spec), stem, "NaN or Inf", codes=(1,))
    assert line.startswith("render failed: ")
    assert not delivered_audio(tmp_path / "out")  # never a silent NaN in a deliverable


# --------------------------------------------------------------------------- sample formats and channels

@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_32", "FLOAT", "DOUBLE", "PCM_16"])
def test_sample_formats_render(tmp_path, subtype):
    stem = tmp_path / f"{subtype}.wav"
    soundfile.write(str(stem), tone(1000, 0.5, channels=2), SR, subtype=subtype)
    assert soundfile.info(str(stem)).subtype == subtype
    spec = song(tmp_path, {"x": stem})
    assert_clean_render(build(tmp_path, spec), tmp_path / "out")
    audio, rate = song_track(tmp_path / "out")
    assert abs(peak_hz(audio, rate) - 1000) < 5
    assert np.abs(audio).max() > 0.05  # 8-bit unsigned is centred, not a DC offset of silence


@pytest.mark.parametrize("channels", [1, 2])
def test_mono_and_stereo_render_stereo(tmp_path, channels):
    stem = tmp_path / f"{channels}ch.wav"
    soundfile.write(str(stem), tone(1000, 0.5, channels=channels), SR, subtype="PCM_24")
    spec = song(tmp_path, {"x": stem})
    assert_clean_render(build(tmp_path, spec), tmp_path / "out")
    audio, _ = song_track(tmp_path / "out")
    assert audio.shape[1] == 2
    assert np.allclose(audio[:, 0], audio[:, 1], atol=1e-4)  # centred either way


def test_six_channel_stem_refused(tmp_path):
    stem = tmp_path / "surround.wav"
    soundfile.write(str(stem), tone(1000, 0.2, channels=6), SR, subtype="PCM_24")
    spec = song(tmp_path, {"x": stem})
    for result in (run("validate", spec), build(tmp_path, spec)):
        line = assert_one_clear_line(result, stem, "must be mono or stereo (got 6 channels)", codes=(2,))
        assert line.startswith(f"{spec}:")  # FILE:LINE: field: message
        assert "stems.x.file" in line


# --------------------------------------------------------------------------- sample rates and lengths

@pytest.mark.parametrize("rate", [8000, 192000])
def test_odd_stem_rate_resampled(tmp_path, rate):
    stem = tmp_path / f"{rate}.wav"
    soundfile.write(str(stem), tone(1000, 1.0, rate=rate, channels=2), rate, subtype="PCM_24")
    spec = song(tmp_path, {"x": stem})
    assert_clean_render(build(tmp_path, spec), tmp_path / "out")
    audio, out_rate = song_track(tmp_path / "out")
    assert out_rate == SR  # streaming target: 48 kHz
    assert abs(audio.shape[0] / SR - 1.1) < 0.01  # 1 s stem + 0.1 s tail, not 1/6 s or 4 s
    assert abs(peak_hz(audio, out_rate) - 1000) < 2


def test_stems_of_very_different_lengths(tmp_path):
    """0.5 s of 3 kHz and 20 s of 200 Hz: the song lasts 20 s + tail; the short stem is silent after 0.5 s."""
    short, long_ = tmp_path / "short.wav", tmp_path / "long.wav"
    soundfile.write(str(short), tone(3000, 0.5, channels=2), SR, subtype="PCM_24")
    soundfile.write(str(long_), tone(200, 20.0, channels=2), SR, subtype="PCM_24")
    spec = song(tmp_path, {"short": short, "long": long_}, tail_s=0.5)
    assert_clean_render(build(tmp_path, spec), tmp_path / "out")
    audio, rate = song_track(tmp_path / "out")
    assert audio.shape[0] == int(20.5 * SR)

    def level_db(segment: np.ndarray, freq_hz: float) -> float:
        mono = segment.mean(axis=1)
        spectrum = np.abs(np.fft.rfft(mono * np.hanning(mono.size)))
        freqs = np.fft.rfftfreq(mono.size, 1 / rate)
        band = (freqs > freq_hz * 0.95) & (freqs < freq_hz * 1.05)
        return 20 * np.log10(spectrum[band].max() + 1e-12)

    early, late = audio[int(0.1 * SR):int(0.4 * SR)], audio[int(1.0 * SR):int(19.0 * SR)]
    assert abs(level_db(early, 3000) - level_db(early, 200)) < 3  # both there at the start
    assert level_db(late, 200) - level_db(late, 3000) > 80  # short stem is zero after its end


@pytest.mark.parametrize("rate", [1, 3, 4000])
def test_stem_rate_outside_resampler_range_refused(tmp_path, rate):
    """Rates the resampler refuses were an internal error at render time; now a spec error."""
    stem = tmp_path / f"{rate}.wav"
    soundfile.write(str(stem), np.full((rate or 1, 1), 0.1), rate, subtype="PCM_16")
    spec = song(tmp_path, {"x": stem})
    assert_one_clear_line(build(tmp_path, spec), stem, f"sample rate must be 8000..768000 Hz (got {rate} Hz)",
                          codes=(2,))


def test_truncated_flac_refused(tmp_path):
    """A FLAC cut in half: the header decodes (validation passes), the frames do not."""
    flac = tmp_path / "full.flac"
    soundfile.write(str(flac), np.random.default_rng(0).standard_normal((SR, 2)) * 0.1, SR)
    stem = tmp_path / "cut.flac"
    stem.write_bytes(flac.read_bytes()[: flac.stat().st_size // 2])
    spec = song(tmp_path, {"x": stem})
    result = build(tmp_path, spec)
    if result.exit_code == 0:  # a libsndfile that reads what is there is fine too
        assert_clean_render(result, tmp_path / "out")
    else:
        assert_one_clear_line(result, stem, "does not decode as audio", codes=(1,))


@pytest.mark.parametrize("value", [1e3, 1e30, 3e38])
def test_unscaled_float_samples_refused(tmp_path, value):
    """Finite but absurd float samples overflowed the chain into NaN (an internal error); now refused."""
    stem = tmp_path / "unscaled.wav"
    soundfile.write(str(stem), np.full((SR // 10, 2), value, dtype=np.float32), SR, subtype="FLOAT")
    spec = song(tmp_path, {"x": stem})
    assert_one_clear_line(build(tmp_path, spec), stem, "over +24 dBFS", codes=(1,))
    assert not delivered_audio(tmp_path / "out")


def test_float_stem_above_full_scale_renders(tmp_path):
    """Float headroom is legitimate: a stem peaking at +12 dBFS renders and is limited."""
    stem = tmp_path / "hot.wav"
    soundfile.write(str(stem), tone(1000, 0.5, channels=2, amp=4.0).astype(np.float32), SR, subtype="FLOAT")
    assert_clean_render(build(tmp_path, song(tmp_path, {"x": stem})), tmp_path / "out")
    audio, _ = song_track(tmp_path / "out")
    assert np.abs(audio).max() <= 1.0


def test_song_longer_than_an_hour_refused(tmp_path, tiny_wav):
    """offset_s up to 36000 passed validation and tried to allocate a 10-hour song (tens of GB)."""
    spec = tmp_path / "late.yaml"
    spec.write_text(yaml.safe_dump({"title": "Late", "stems": {"x": {"file": str(tiny_wav), "offset_s": 36000}}}))
    assert_one_clear_line(run("validate", spec), tiny_wav, "a song may last at most 3600 s", codes=(2,))
