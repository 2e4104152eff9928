"""Two albums delivered into one out folder keep each other's files (issue 16 item 5): a second album built into
the same build/ deleted the first album's streaming/ files. Each album has its own manifest
(`<title>.manifest.json`), and the out folder's registry says which spec delivered which, so a retitled album
still drops its own old files and nothing of another's."""

from __future__ import annotations

from testkit.outdir import deliverables
from testkit.project import second_album
from testkit.proc import build


def _streaming(out):
    return {p.name for p in (out / "streaming").iterdir()}


def test_two_albums_in_one_out_folder_keep_their_files(project, tmp_path):
    other = second_album(project)  # the same songs in the other order: 01 - Two, 02 - One
    cache, out = project.root / "cache", tmp_path / "out"
    assert build(project.path, cache, out, 1).returncode == 0
    first = deliverables(out)
    assert build(other, cache, out, 1).returncode == 0
    assert _streaming(out) == {"01 - One.wav", "02 - Two.wav", "Test Album.wav", "Test Album.manifest.json",
                               "01 - Two.wav", "02 - One.wav", "Other Album.wav", "Other Album.manifest.json"}
    assert {k: v for k, v in deliverables(out).items() if k in first} == first  # the first album's bytes, intact
    project.spec["title"] = "Renamed Album"  # the first album retitled: its own old files go, the other's stay
    project.save()
    assert build(project.path, cache, out, 1).returncode == 0
    assert _streaming(out) == {"01 - One.wav", "02 - Two.wav", "Renamed Album.wav", "Renamed Album.manifest.json",
                               "01 - Two.wav", "02 - One.wav", "Other Album.wav", "Other Album.manifest.json"}


def test_a_file_name_another_album_delivered_is_refused_not_overwritten(project, tmp_path):
    cache, out = project.root / "cache", tmp_path / "out"
    assert build(project.path, cache, out, 1).returncode == 0
    before = deliverables(out)
    twin = project.root / "twin.yaml"  # another spec, another title, the same track names
    twin.write_text(project.path.read_text().replace("title: Test Album", "title: Twin Album"))
    proc = build(twin, cache, out, 1)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"build failed: {out / 'streaming' / '01 - One.wav'}: another album delivered a file of this name here (its "
        "manifest lists it); deliver into another --out, or retitle the song or album")
    assert {k: v for k, v in deliverables(out).items() if k in before} == before
