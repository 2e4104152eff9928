"""Loudness normalisation gains: track and album (all songs' blocks gated together)."""

from __future__ import annotations

import numpy as np
import pytest

from stages.dsp.loudness import block_powers, integrated_lufs
from stages.dsp.normalize import album_gain_db, loudness_gain_db, track_gain_db

from .signals import music_like, sequence, silence, sine


def test_loudness_gain():
    assert loudness_gain_db(-20.0, -14.0) == pytest.approx(6.0)
    assert loudness_gain_db(-9.0, -14.0) == pytest.approx(-5.0)


def test_silence_gets_no_gain():
    assert loudness_gain_db(float("-inf"), -14.0) == 0.0
    assert track_gain_db(block_powers(silence(2.0), 48000), -14.0) == 0.0
    assert album_gain_db([block_powers(silence(2.0), 48000)], -14.0) == 0.0
    assert album_gain_db([], -14.0) == 0.0


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_bad_measured(bad):
    with pytest.raises(ValueError, match="measured_lufs"):
        loudness_gain_db(bad, -14.0)


@pytest.mark.parametrize("bad", [5.0, -80.0, "loud"])
def test_bad_target(bad):
    with pytest.raises(ValueError, match="target_lufs"):
        loudness_gain_db(-20.0, bad)


def test_track_gain_reaches_the_target():
    x = music_like(10.0)
    gain = track_gain_db(block_powers(x, 48000), -14.0)
    assert integrated_lufs(x * 10 ** (gain / 20), 48000) == pytest.approx(-14.0, abs=1e-6)


def test_album_gain_gates_all_songs_together():
    """A loud and a quiet song: one gain; the album (concatenation) lands on the target, relative levels kept."""
    loud = sine(-18.0, 10.0)
    quiet = sine(-35.0, 10.0)
    gain = album_gain_db([block_powers(loud, 48000), block_powers(quiet, 48000)], -14.0)
    album = sequence(loud, quiet) * 10 ** (gain / 20)
    # the concatenated album's integrated loudness hits the target (block straddling the seam aside)
    assert integrated_lufs(album, 48000) == pytest.approx(-14.0, abs=0.1)
    # gated together: the quiet song sits under the album's -10 LU relative gate (about -30.9 LUFS)
    assert gain == pytest.approx(-14.0 - (-18.0), abs=0.01)
    assert gain != pytest.approx(track_gain_db(block_powers(quiet, 48000), -14.0), abs=1.0)


def test_album_of_one_song_is_the_track_gain():
    x = music_like(10.0, seed=5)
    powers = block_powers(x, 48000)
    assert album_gain_db([powers], -16.0) == pytest.approx(track_gain_db(powers, -16.0), abs=1e-12)
    assert isinstance(album_gain_db([powers], -16.0), float)
    assert np.isfinite(album_gain_db([powers], -16.0))
