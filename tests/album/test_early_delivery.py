"""A target is delivered as soon as its album export is resolved, while another target's nodes still render."""

from __future__ import annotations

import dataclasses
import threading
import time

from mixbuild.stages.registry import KINDS, load_kinds
from testkit.outdir import album_manifest

WAIT_S = 60.0


def test_a_target_is_delivered_while_another_still_renders(project, monkeypatch):
    project.spec["targets"]["cd"] = {"preset": "cd"}
    project.save()
    cd = project.root / "build" / "cd"
    final = load_kinds()["final"]
    held = threading.Lock()
    seen: dict[str, bool] = {}

    def streaming_final_waits_for_cd(inputs, params):
        """The first streaming final renders only once the cd folder holds its manifest (or WAIT_S passed)."""
        if params.target_rate_hz == 48000 and held.acquire(blocking=False):
            deadline = time.monotonic() + WAIT_S
            while not (cd.is_dir() and any(cd.glob("*.manifest.json"))) and time.monotonic() < deadline:
                time.sleep(0.05)
            seen["cd delivered first"] = cd.is_dir() and any(cd.glob("*.manifest.json"))
        return final.render(inputs, params)

    monkeypatch.setitem(KINDS, "final", dataclasses.replace(final, render=streaming_final_waits_for_cd))
    report = project.build(jobs=2, backend="threading")  # the other thread renders all of cd meanwhile
    assert seen == {"cd delivered first": True}
    assert {o["target"] for o in report.outputs} == {"cd", "streaming"}
    for target in ("cd", "streaming"):  # both complete: every file their manifest lists is there
        folder = project.root / "build" / target
        assert album_manifest(folder).is_file()
