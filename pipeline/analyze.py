"""`mixbuild analyze`: EBU R128 figures of an audio file (BS.1770-4 loudness, Tech 3342 LRA, true peak)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import soundfile

from mixbuild.stages.dsp.loudness import measure


class AnalyzeError(Exception):
    """A file that cannot be analysed (missing, a directory, not decodable audio); str() is "PATH: reason"."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(str(path), reason)
        self.path = str(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def analyze_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a file as float64 and return its loudness figures (LUFS, LU, dBTP, dBFS; -inf where undefined).

    Keys: file, integrated_lufs, momentary_max_lufs, short_term_max_lufs, lra_lu, true_peak_dbtp,
    sample_peak_dbfs, duration_s, sample_rate, channels. Raises AnalyzeError, never a decoder traceback.
    """
    file = Path(path)
    if not file.exists():
        raise AnalyzeError(file, "no such file")
    if file.is_dir():
        raise AnalyzeError(file, "is a directory, not an audio file")
    try:
        audio, sample_rate = soundfile.read(str(file), dtype="float64", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise AnalyzeError(file, f"cannot decode audio ({_one_line(err)})") from None
    except OSError as err:
        raise AnalyzeError(file, f"cannot read ({err.strerror or _one_line(err)})") from None
    try:
        report = measure(audio, sample_rate)
    except ValueError as err:
        raise AnalyzeError(file, _one_line(err)) from None
    frames, channels = audio.shape
    return {
        "file": str(file),
        "integrated_lufs": report.integrated_lufs,
        "momentary_max_lufs": report.momentary_max_lufs,
        "short_term_max_lufs": report.short_term_max_lufs,
        "lra_lu": report.lra_lu,
        "true_peak_dbtp": report.true_peak_dbtp,
        "sample_peak_dbfs": report.sample_peak_dbfs,
        "duration_s": frames / sample_rate,
        "sample_rate": int(sample_rate),
        "channels": int(channels),
    }


def to_json_safe(value: Any) -> Any:
    """A copy where every non-finite float (-inf LUFS of silence, NaN) is None, so json.dumps stays standard."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: to_json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_safe(item) for item in value]
    return value


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__
