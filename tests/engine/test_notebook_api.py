"""The notebook API (issue 16 item 8): a tweak was `model_copy(update=...)` three levels deep, which skips
validation (a 400 dB gain rendered and was delivered at -27.4 LUFS on a -14 target, no error), and a node's
audio could not be read back. Now `api.set_value` changes one value as the CLI validates it, `api.build`
checks an album it is given, and `report.audio(node)` reads a node's audio back."""

from __future__ import annotations

import numpy as np
import pytest

from mixbuild.pipeline import api
from mixbuild.pipeline.specs import SpecError


def test_set_value_builds_the_tweak_and_audio_reads_it_back(project):
    album = api.load(project.path)
    before = project.build()
    kick, rate = before.audio("one/stem/kick")
    assert rate == 48000 and kick.shape[1] == 1  # a mono stem stays mono
    louder = api.set_value(album, "songs.one.stems.kick.gain_db", -2.5)
    assert album.songs[0].stems["kick"].gain_db == -3.0  # the loaded album is left as it was
    after = api.build(project.path, cache_dir=project.root / "cache", out_dir=project.root / "build", jobs=1,
                      album=louder)
    assert "one/stem/kick" in after.rendered and "two/stem/kick" not in after.rendered
    ratio = np.asarray(after.audio("one/stem/kick")[0], dtype=np.float64) / np.asarray(kick, dtype=np.float64)
    loud = np.abs(np.asarray(kick)) > 1e-3  # float32 storage: the ratio is exact to ~1e-7 where the signal is
    assert np.allclose(ratio[loud], 10 ** (0.5 / 20), rtol=1e-5)
    final, final_rate = after.audio("one/final/streaming")
    assert final_rate == 48000 and final.shape[1] == 2
    with pytest.raises(ValueError, match="not audio"):
        after.audio("album/export/streaming")
    with pytest.raises(KeyError):
        after.audio("one/stem/kik")


def test_a_change_out_of_range_is_the_clis_message_never_a_render(project):
    album = api.load(project.path)
    with pytest.raises(SpecError) as err:
        api.set_value(album, "songs.one.stems.kick.gain_db", 400)
    assert [str(p) for p in err.value.problems] == ["<python>: songs.0.stems.kick.gain_db: must be <= 24.0 (got 400)"]
    song = album.songs[0]
    stems = {**song.stems, "kick": song.stems["kick"].model_copy(update={"gain_db": 400.0})}  # skips validation
    sneaked = album.model_copy(update={"songs": [song.model_copy(update={"stems": stems}), *album.songs[1:]]})
    with pytest.raises(SpecError) as err:
        api.build(project.path, cache_dir=project.root / "cache", out_dir=project.root / "build", album=sneaked)
    assert [p.field for p in err.value.problems] == ["songs.0.stems.kick.gain_db"]
    assert not (project.root / "build").exists()
