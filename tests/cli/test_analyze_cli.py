"""`mixbuild analyze` as a user calls it: figures for a good file, exit 2 and one line for a bad one."""

from __future__ import annotations

import json

import numpy as np
import soundfile
from typer.testing import CliRunner

from mixbuild.pipeline.cli import app


def test_analyze_reports_standard_figures(tmp_path):
    rate = 48000
    t = np.arange(rate * 10) / rate
    tone = 10 ** (-23 / 20) * np.sin(2 * np.pi * 1000 * t)  # EBU Tech 3341 case 1: -23 dBFS 1 kHz stereo
    path = tmp_path / "tone.flac"
    soundfile.write(str(path), np.stack([tone, tone], axis=1), rate, subtype="PCM_24")
    result = CliRunner().invoke(app, ["analyze", str(path), "--json"])
    assert result.exit_code == 0, result.output
    (figures,) = json.loads(result.stdout)
    assert abs(figures["integrated_lufs"] - -23.0) <= 0.1
    assert figures["sample_rate"] == rate and figures["channels"] == 2 and abs(figures["duration_s"] - 10) < 1e-6
    text = CliRunner().invoke(app, ["analyze", str(path)])
    assert text.exit_code == 0 and "I -23.0 LUFS" in text.output


def test_analyze_bad_file_is_one_line_exit_2(tmp_path):
    fake = tmp_path / "fake.wav"
    fake.write_text("not audio")
    result = CliRunner().invoke(app, ["analyze", str(fake)])
    assert result.exit_code == 2 and str(fake) in result.stderr and "Traceback" not in result.output
    missing = CliRunner().invoke(app, ["analyze", str(tmp_path / "none.wav")])
    assert missing.exit_code == 2 and "none.wav" in missing.stderr
