"""A rebuild reads back none of the files the previous build delivered: their digests are known (issue 14:
the tail of a tweak must not grow with the album)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import mixbuild.pipeline.filememo as filememo


def _age(folder: Path, seconds: float) -> None:
    """Move every file's mtime back, as time passing would (past the digest memo's racy window)."""
    then = time.time() - seconds
    for path in folder.rglob("*"):
        if path.is_file():
            os.utime(path, (then, then))


def _spy_on_reads(monkeypatch) -> list[Path]:
    """The files the digest memo reads from now on."""
    read: list[Path] = []
    real = filememo.digest_file

    def spy(path):
        read.append(Path(path))
        return real(path)

    monkeypatch.setattr(filememo, "digest_file", spy)
    return read


def test_tweak_after_tweak_reads_no_delivered_file(project, monkeypatch):
    out = project.root / "build"
    project.build()
    _age(out, 60)  # files delivered a minute ago (the next build reads them once: their ctime moved)
    project.spec["songs"][0]["stems"]["lead"]["gain_db"] = -2.0
    project.save()
    project.build()  # one song's file is copied in, the other song's is carried over as a link
    read = _spy_on_reads(monkeypatch)
    project.spec["songs"][0]["stems"]["lead"]["gain_db"] = -2.5
    project.save()
    report = project.build()
    assert "one/export/streaming" in report.rendered
    delivered = {p.resolve() for p in out.rglob("*") if p.is_file()}
    assert delivered and not {p.resolve() for p in read} & delivered, sorted({p.resolve() for p in read} & delivered)


def test_a_tweak_reads_no_stored_piece_to_store_the_album(project, monkeypatch):
    # The album file and the tagged tracks are kept as pieces of stored exports. Storing them must not read
    # the unchanged songs' pieces again (their digests are known and verified) nor the whole album a second
    # time (its digest is taken in the sha256 pass of its manifest): with 14 songs that was 5 album reads.
    import mixbuild.pipeline.cache as cache_module
    import mixbuild.pipeline.worker as worker

    project.build()
    hashed: list[Path] = []
    spliced: list[object] = []
    real_digest_file = cache_module.digest_file
    monkeypatch.setattr(cache_module, "digest_file", lambda path: hashed.append(Path(path)) or real_digest_file(path))
    real_blocks = worker.digest_blocks
    monkeypatch.setattr(worker, "digest_blocks", lambda blocks: spliced.append(blocks) or real_blocks(blocks))
    project.spec["songs"][0]["stems"]["lead"]["gain_db"] = -2.5
    project.save()
    report = project.build()
    assert {"one/tagged/streaming", "album/export/streaming"} <= set(report.rendered)
    objects = (project.root / "cache" / "objects").resolve()
    assert not [p for p in hashed if p.resolve().is_relative_to(objects)]  # no stored blob hashed to store it
    assert spliced == []  # every spliced file's digest came from its sha256 pass or its stored record
