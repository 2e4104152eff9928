"""Stems keep their own extent: a stem renders its own frames, and the sums place each source at its start
frame in song time, cut at the song's end. Sample for sample what the song-long stems of before gave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from mixbuild.stages.dsp.automation import envelope
from mixbuild.stages.dsp.pan import pan_to_stereo, stereo_width
from mixbuild.stages.mixing import MixInput, start_frame, summed
from mixbuild.stages.registry import RenderError
from mixbuild.stages.stem import StemInputs, StemParams, render_stem

SR = 48000


def _audio(frames: int, channels: int, seed: int) -> np.ndarray:
    """float32, as the cache hands sources to a sum."""
    return (0.5 * np.random.default_rng(seed).standard_normal((frames, channels))).astype(np.float32)


def test_sum_places_each_source_at_its_start_and_cuts_at_the_songs_end():
    frames = 10
    bus = _audio(frames, 2, 1)                     # a bus spans the song
    early = _audio(3, 4, 2)                         # a stem with a pre-fader tap, from frame 2
    late = _audio(4, 2, 3)                          # from frame 8: its last two frames fall past the end
    gone = _audio(3, 2, 4)                          # starts past the song's end: adds nothing
    arrays = [bus, early, late, gone]
    taps = [MixInput(), MixInput(tap="pre", signals=2, level_db=-6.0, start_frame=2), MixInput(start_frame=8),
            MixInput(level_db=3.0, start_frame=12)]
    out = summed(arrays, taps, 0, frames)

    expected = np.zeros((frames, 2))               # per sample, in the sources' order, float64 accumulator
    for audio, tap in zip(arrays, taps):
        half = audio[:, :2] if tap.tap == "post" else audio[:, 2:]
        for k in range(half.shape[0]):
            if tap.start_frame + k < frames:
                expected[tap.start_frame + k] += half[k] * (10.0 ** (tap.level_db / 20.0))
    assert out.shape == (frames, 2) and out.dtype == np.float64
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(out[:2], bus[:2].astype(np.float64))  # only the bus before the first stem

    padded = []                                    # the song-long stems of before: zeros outside the stem
    for audio, tap in zip(arrays, taps):
        song_long = np.zeros((frames, audio.shape[1]), dtype=np.float32)
        n = max(0, min(audio.shape[0], frames - tap.start_frame))
        song_long[tap.start_frame:tap.start_frame + n] = audio[:n]
        padded.append(song_long)
    at_zero = [MixInput(tap=t.tap, signals=t.signals, level_db=t.level_db) for t in taps]
    np.testing.assert_array_equal(out, summed(padded, at_zero, 0, frames))  # bit for bit


def test_a_mono_stem_stays_mono_and_the_sum_places_it_by_its_pan_and_width(tmp_path: Path):
    """Half the bytes of a mono source's stereo image: the stored stem is mono, post then pre fader, and the
    sum places it as pan_to_stereo then stereo_width placed it (to float64 rounding: the gains are folded)."""
    source = tmp_path / "kick.wav"
    soundfile.write(str(source), 0.3 * np.random.default_rng(6).standard_normal((SR // 4, 1)), SR, subtype="FLOAT")
    p = StemParams(sample_rate_hz=SR, prefader_tap=True, gain_db=-4.0, pan=-0.35, width=1.6)
    written = render_stem(StemInputs(source=source), p)
    out = np.load(written.path)
    written.path.unlink()
    decoded, _ = soundfile.read(str(source), dtype="float64", always_2d=True)
    assert out.shape == (SR // 4, 2)               # mono post-fader, mono pre-fader
    np.testing.assert_array_equal(out[:, :1], (decoded * 10.0 ** (-4.0 / 20.0)).astype(np.float32))
    np.testing.assert_array_equal(out[:, 1:], decoded.astype(np.float32))
    frames = SR // 4
    post, pre = (summed([out], [MixInput(tap=tap, signals=2, pan=p.pan, width=p.width)], 0, frames)
                 for tap in ("post", "pre"))
    np.testing.assert_allclose(post, stereo_width(pan_to_stereo(out[:, :1].astype(np.float64), p.pan), p.width),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(pre, pan_to_stereo(out[:, 1:].astype(np.float64), 0.0), rtol=1e-12, atol=1e-15)
    assert np.abs(post[:, 0]).sum() > 1.5 * np.abs(post[:, 1]).sum()  # panned left, widened
    moving = render_stem(StemInputs(source=source), StemParams(sample_rate_hz=SR, automation={
        "pan": [[0.0, -1.0], [0.25, 1.0]]}))  # automated pan moves frame by frame: placed by the stem
    assert np.load(moving.path).shape == (SR // 4, 2)
    moving.path.unlink()
    with pytest.raises(ValueError, match="3 channels does not hold 2"):
        summed([np.zeros((4, 3), np.float32)], [MixInput(signals=2)], 0, 4)


def _old_stem(audio: np.ndarray, p: StemParams, frames: int) -> np.ndarray:
    """The stem kernel of before (EQ and compressor left out: they run before placement, unchanged)."""
    placed = np.zeros((frames, audio.shape[1]))
    start = start_frame(p.offset_s, p.sample_rate_hz)
    n = max(0, min(audio.shape[0], frames - start))
    placed[start:start + n] = audio[:n]
    auto = p.automation
    assert auto is not None and auto.gain_db and auto.pan
    gain = 10.0 ** ((p.gain_db + envelope(auto.gain_db, frames, SR)) / 20.0)
    post = stereo_width(pan_to_stereo(placed * gain[:, None], envelope(auto.pan, frames, SR)), p.width)
    return np.concatenate([post, pan_to_stereo(placed, 0.0)], axis=1)


def test_a_stem_spans_itself_and_its_automation_stays_in_song_time(tmp_path: Path):
    source = tmp_path / "lead.wav"
    audio = 0.25 * np.random.default_rng(5).standard_normal((SR // 2, 2))
    soundfile.write(str(source), audio, SR, subtype="FLOAT")
    p = StemParams(sample_rate_hz=SR, prefader_tap=True, offset_s=0.3157, gain_db=-2.0, width=1.4,
                   automation={"gain_db": [[0.0, -30.0], [0.5, 0.0], [0.5, -6.0], [0.7, 0.0]],
                               "pan": [[0.2, -1.0], [1.0, 1.0]]})
    written = render_stem(StemInputs(source=source), p)  # streamed into a .npy, as float32 (what is stored)
    out = np.load(written.path)
    written.path.unlink()
    assert out.shape == (SR // 2, 4)               # the stem's frames, not the song's

    frames = SR                                     # a one-second song: the stem is cut nowhere
    start = start_frame(p.offset_s, SR)
    decoded, _ = soundfile.read(str(source), dtype="float64", always_2d=True)
    np.testing.assert_array_equal(out, _old_stem(decoded, p, frames)[start:start + SR // 2].astype(np.float32))


def test_a_source_shorter_than_its_header_is_one_clear_error(tmp_path: Path, monkeypatch):
    import mixbuild.stages.stem as stem

    source = tmp_path / "cut.wav"
    soundfile.write(str(source), np.zeros((1000, 1)), SR)
    real = stem.source_stream

    def lying_header(path: str, rate: int):  # a header that promises more frames than the file decodes to
        frames, channels, blocks = real(path, rate)
        return frames + 10, channels, blocks

    monkeypatch.setattr(stem, "source_stream", lying_header)
    with pytest.raises(RenderError, match="cut.wav: decodes to a length other than its header's 1010 frames"):
        render_stem(StemInputs(source=source), StemParams(sample_rate_hz=SR))
