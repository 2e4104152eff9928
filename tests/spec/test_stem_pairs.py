"""A stereo stem bounced as two mono files (`file` the left, `right_file` the right), as every DAW can export:
the stem node renders the pair as one stereo source, channel for channel (issue 16 item 3)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from mixbuild.pipeline.cache import Cache
from mixbuild.pipeline.specs import SpecError, load
from testkit.project import SR


def _tone(path, freq_hz, seconds=2.0, channels=1):
    t = np.arange(int(seconds * SR)) / SR
    audio = 0.25 * np.sin(2 * np.pi * freq_hz * t)
    soundfile.write(str(path), np.stack([audio] * channels, axis=1) if channels > 1 else audio, SR, subtype="FLOAT")
    return audio


def _pair(project, right_channels=1, right_seconds=2.0):
    stems = project.root / "stems"
    left = _tone(stems / "Kick.L.wav", 100.0)
    right = _tone(stems / "Kick.R.wav", 150.0, right_seconds, right_channels)
    project.spec["songs"][0]["stems"]["kick"] = {"file": "stems/Kick.L.wav", "right_file": "stems/Kick.R.wav",
                                                  "gain_db": -6.0}
    project.save()
    return left, right


def test_a_pair_renders_as_one_stereo_stem_channel_for_channel(project):
    left, right = _pair(project)
    report = project.build()
    node = next(n for n in report.nodes if n.id == "one/stem/kick")
    audio = np.asarray(Cache(project.root / "cache").load_array(node.digest))
    gain = 10 ** (-6.0 / 20)
    assert audio.shape == (left.size, 2)
    # float32 storage of float64 arithmetic: within 1e-7 of full scale
    assert np.abs(audio[:, 0] - gain * left).max() < 1e-7 and np.abs(audio[:, 1] - gain * right).max() < 1e-7


@pytest.mark.parametrize(("channels", "seconds", "message"), [
    (2, 2.0, "a pair of files is two mono files (file has 1 channel(s), right_file 2)"),
    (1, 1.5, "a pair of files has one length and rate (file: 96000 frames at 48000 Hz, right_file: 72000 at 48000 Hz)"),
])
def test_a_pair_that_is_not_two_matching_mono_files_is_one_line(project, channels, seconds, message):
    _pair(project, channels, seconds)
    with pytest.raises(SpecError) as err:
        load(project.path)
    assert [(p.field, p.message) for p in err.value.problems] == [("songs.0.stems.kick.right_file", message)]
