"""kill -9 of a build (and its loky workers) at random moments: the next plain build is whole."""

from __future__ import annotations

import pytest

from testkit.crash import crash_campaign
from testkit.proc import REPO


def _assert_survived(fig, kills):
    assert fig.kills == kills
    assert not fig.problems, "\n".join(fig.problems)
    assert fig.clean_rebuilds == kills
    assert fig.bad_cache_entries == 0 and fig.partial_files == 0
    assert fig.temp_files_after_rebuild == 0 and fig.undecodable_files == 0


@pytest.mark.slow  # 50-90 s: five cold builds killed and rebuilt, plus a reference build
def test_kill9_at_random_moments_small_album(project, tmp_path):
    fig = crash_campaign(project.path, tmp_path / "crash", kills=5, seed=1)
    _assert_survived(fig, 5)
    assert fig.killed_mid_build >= 3  # the kills really landed inside builds


@pytest.mark.slow
def test_kill9_twenty_times_demo_album(demo_stems, tmp_path):
    fig = crash_campaign(REPO / "configs" / "demo" / "album.yaml", tmp_path / "crash", kills=20, seed=2)
    _assert_survived(fig, 20)
    assert fig.killed_mid_build >= 15
