"""`analyze_file`: figures from WAV and FLAC, one-line errors naming the file, JSON-safe output."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import soundfile

from mixbuild.pipeline.analyze import AnalyzeError, analyze_file, to_json_safe
from mixbuild.stages.dsp.loudness import measure

from .signals import music_like, silence

KEYS = {"file", "integrated_lufs", "momentary_max_lufs", "short_term_max_lufs", "lra_lu", "true_peak_dbtp",
        "sample_peak_dbfs", "duration_s", "sample_rate", "channels"}


@pytest.mark.parametrize("fmt, subtype", [("WAV", "PCM_24"), ("WAV", "FLOAT"), ("FLAC", "PCM_24")])
def test_figures_from_wav_and_flac(tmp_path, fmt, subtype):
    x = music_like(6.0, 44100)
    path = tmp_path / f"song.{fmt.lower()}"
    soundfile.write(str(path), x, 44100, format=fmt, subtype=subtype)
    result = analyze_file(path)
    assert set(result) == KEYS
    assert result["file"] == str(path)
    assert result["sample_rate"] == 44100 and result["channels"] == 2
    assert result["duration_s"] == pytest.approx(6.0)
    decoded, _ = soundfile.read(str(path), dtype="float64", always_2d=True)
    expected = measure(decoded, 44100)
    assert result["integrated_lufs"] == pytest.approx(expected.integrated_lufs, abs=1e-9)
    assert result["true_peak_dbtp"] == pytest.approx(expected.true_peak_dbtp, abs=1e-9)
    assert result["integrated_lufs"] == pytest.approx(measure(x, 44100).integrated_lufs, abs=0.01)
    assert -40 < result["integrated_lufs"] < 0 and result["sample_peak_dbfs"] == pytest.approx(-6.02, abs=0.01)


def test_mono_file(tmp_path):
    path = tmp_path / "mono.wav"
    soundfile.write(str(path), music_like(3.0)[:, 0], 48000)
    result = analyze_file(path)
    assert result["channels"] == 1 and np.isfinite(result["integrated_lufs"])


def test_silent_file_is_json_safe(tmp_path):
    path = tmp_path / "silent.wav"
    soundfile.write(str(path), silence(1.0), 48000)
    result = analyze_file(path)
    assert result["integrated_lufs"] == float("-inf")
    safe = to_json_safe(result)
    assert safe["integrated_lufs"] is None and safe["true_peak_dbtp"] is None
    assert safe["lra_lu"] == 0.0 and safe["sample_rate"] == 48000
    json.dumps(safe, allow_nan=False)


def test_to_json_safe_nested():
    assert to_json_safe({"a": [1.0, float("nan"), {"b": float("-inf")}], "c": "x", "d": 3}) == {
        "a": [1.0, None, {"b": None}], "c": "x", "d": 3}


def test_missing_file(tmp_path):
    path = tmp_path / "nope.wav"
    with pytest.raises(AnalyzeError) as info:
        analyze_file(path)
    assert str(info.value) == f"{path}: no such file"
    assert info.value.path == str(path)


def test_directory(tmp_path):
    with pytest.raises(AnalyzeError, match="is a directory") as info:
        analyze_file(tmp_path)
    assert str(info.value).startswith(f"{tmp_path}: ")


@pytest.mark.parametrize("content", [b"this is not audio at all" * 100, b"", b"RIFF\x00\x00\x00\x00WAVEfmt "])
def test_garbage_named_wav(tmp_path, content):
    path = tmp_path / "garbage.wav"
    path.write_bytes(content)
    with pytest.raises(AnalyzeError, match="cannot decode audio") as info:
        analyze_file(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_non_finite_float_file(tmp_path):
    x = music_like(1.0)
    x[100, 0] = np.nan
    path = tmp_path / "nan.wav"
    soundfile.write(str(path), x, 48000, subtype="FLOAT")
    with pytest.raises(AnalyzeError, match="audio contains NaN or Inf samples"):
        analyze_file(path)


def test_error_is_an_exception_and_pickles():
    err = AnalyzeError("a/b.wav", "no such file")
    assert isinstance(err, Exception)
    clone = pickle.loads(pickle.dumps(err))
    assert str(clone) == "a/b.wav: no such file"
