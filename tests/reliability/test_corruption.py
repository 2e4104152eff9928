"""Damaged objects and garbage action records: found by plan, re-rendered by build, never served."""

from __future__ import annotations

import random

import pytest

from mixbuild.pipeline.cache import Cache

from testkit.corrupt import DAMAGES, GARBAGE, damage_object, garbage_action, nodes_hit, write_garbage
from testkit.outdir import deliverables
from testkit.proc import build, plan, report, verify


def upstream(node: dict) -> set[str]:
    """Ids of the nodes a build-report node reads (its inputs: name -> [output, source, digest] or a list of those)."""
    refs = []
    for wire in node["inputs"].values():
        refs.extend(wire if not wire or isinstance(wire[0], list) else [wire])
    return {source for output, source, _ in refs if output != "file"}


def _cold(project, tmp_path):
    cache, out = project.root / "cache", tmp_path / "out"
    proc = build(project.path, cache, out, jobs=1)
    assert proc.returncode == 0, proc.stderr
    return cache, out, report(out)["nodes"], deliverables(out)


def _check_plan_and_rebuild(project, cache, out, nodes, clean, hit, reasons, damaged=frozenset(),
                            unreadable=frozenset()):
    """Every hit node would render: with the cache reason if its inputs are intact, else because
    an input re-renders (and, for an ``unreadable`` action record, because the last build's record is
    gone: there is no preimage to compare with); the rebuild renders them all and delivers the clean bytes."""
    entries = plan(project.path, cache, out)
    inputs = {n["id"]: upstream(n) for n in nodes}
    stale: set[str] = set()  # hit nodes and everything downstream of one (nodes are in topological order)
    for node in nodes:
        if node["id"] in hit or inputs[node["id"]] & stale:
            stale.add(node["id"])
    for node in nodes:
        node_id, entry = node["id"], entries[node["id"]]
        if node_id not in stale:
            assert entry["status"] == "cached", entry
        elif inputs[node_id] & stale:  # plan cannot know this key before the input re-renders
            assert entry["status"] == "render" and entry["reasons"], entry
            why = ("input re-renders", "last build's record is gone") if node_id in unreadable else ("input re-renders",)
            assert all(r.startswith(why) for r in entry["reasons"]), entry
        else:
            assert entry["status"] == "render" and entry["reasons"] == [reasons[node_id]], entry
    proc = build(project.path, cache, out, jobs=1)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    after = report(out)
    rendered = {n["id"] for n in after["nodes"] if n["status"] == "rendered"}
    # a hit node renders, unless another node that rendered first rewrote the very objects it lost
    # (an album export shares its song files' blobs with the song exports): then it is a sound hit
    store = Cache(cache)
    rewritten = set().union(*({n["digest"]} | (store.blob_refs(n["digest"]) if n["output"] == "json" else set())
                              for n in after["nodes"] if n["id"] in rendered))
    for node in nodes:
        if node["id"] in hit and node["id"] not in rendered:
            refs = {node["digest"]} | (store.blob_refs(node["digest"]) if node["output"] == "json" else set())
            assert damaged & refs <= rewritten, node["id"]
    assert {n["id"]: n["digest"] for n in after["nodes"]} == {n["id"]: n["digest"] for n in nodes}
    assert deliverables(out) == clean
    code, bad = verify(cache)
    assert code == 0 and bad == []


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)])
def test_random_damaged_objects_rerender(project, tmp_path, seed):
    rng = random.Random(seed)
    cache_dir, out, nodes, clean = _cold(project, tmp_path)
    cache = Cache(cache_dir)
    objects = sorted(p for p in (cache_dir / "objects").rglob("*") if p.suffix in (".npy", ".json", ".blob"))
    victims = rng.sample(objects, 4)
    hows = {p: DAMAGES[i % 3] if i < 3 else rng.choice(DAMAGES) for i, p in enumerate(victims)}
    damaged = {p.name.split(".")[0] for p in victims}
    hit = nodes_hit(nodes, cache, damaged)  # before damage: blob refs must still be readable
    for path, how in hows.items():
        damage_object(path, how, rng)
    assert hit, "every object belongs to some node"
    code, bad = verify(cache_dir)
    assert code == 1 and bad
    # "missing" only when every damaged object a node depends on was deleted
    by_digest = {p.name.split(".")[0]: how for p, how in hows.items()}
    reasons = {}
    for node in nodes:
        if node["id"] in hit:
            refs = {node["digest"]} | (cache.blob_refs(node["digest"]) if node["output"] == "json" else set())
            kinds = {by_digest[d] for d in refs & damaged}
            reasons[node["id"]] = "cache entry missing" if kinds == {"delete"} else "cache entry corrupt"
    _check_plan_and_rebuild(project, cache_dir, out, nodes, clean, hit, reasons, damaged)


def test_garbage_action_records_never_crash(project, tmp_path):
    rng = random.Random(7)
    cache_dir, out, nodes, clean = _cold(project, tmp_path)
    by_key = {n["key"]: n["id"] for n in nodes}
    actions = sorted((cache_dir / "actions").rglob("*.json"))
    victims = rng.sample(actions, min(len(GARBAGE), len(actions)))
    for i, path in enumerate(victims):
        write_garbage(path, GARBAGE[i])
    # stray files a scan must skip
    (cache_dir / "actions" / "zz").mkdir(exist_ok=True)
    (cache_dir / "actions" / "zz" / "not-a-key.json").write_bytes(b"\xff")
    hit = {by_key[p.stem] for p in victims}
    # a well-formed record naming an object the cache never had reads as a missing entry, the rest as corrupt
    reasons = {by_key[p.stem]: "cache entry missing" if GARBAGE[i].endswith(b'"0123456789abcdef0123456789abcdef"}')
               else "cache entry corrupt" for i, p in enumerate(victims)}
    code, bad = verify(cache_dir)
    assert code == 1 and len(bad) == len(victims)
    _check_plan_and_rebuild(project, cache_dir, out, nodes, clean, hit, reasons, unreadable=hit)


@pytest.mark.slow
def test_random_garbage_everywhere_then_build(project, tmp_path):
    """Garbage in every action, the file-digest memo, the history and the code-version memo: the build
    must not crash and must re-render everything to the clean bytes."""
    rng = random.Random(11)
    cache_dir, out, nodes, clean = _cold(project, tmp_path)
    for path in sorted(cache_dir.rglob("*.json")):
        if "objects" in path.parts:
            continue
        garbage_action(path, rng) if "actions" in path.parts else path.write_bytes(rng.randbytes(rng.randrange(64)))
    proc = build(project.path, cache_dir, out, jobs=2)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert deliverables(out) == clean
    code, bad = verify(cache_dir)
    assert code == 0 and bad == []


def _record_path(cache: Cache, nodes: list[dict], node_id: str):
    return cache.action_path(next(n["key"] for n in nodes if n["id"] == node_id))


@pytest.mark.parametrize("swap", ["another stage's json object", "another node's whole record"])
def test_a_record_naming_the_wrong_object_is_corrupt_not_served(project, tmp_path, swap):
    """The fault campaign's cases: a stem's record pointing at a JSON object (every build failed with
    `internal error: TypeError` while `cache verify` called the cache clean), and another node's valid
    record copied over a node's (its object was served for the wrong node)."""
    import json

    cache_dir, out, nodes, clean = _cold(project, tmp_path)
    cache = Cache(cache_dir)
    victim = _record_path(cache, nodes, "one/stem/bass")
    record = json.loads(victim.read_text())
    if swap == "another stage's json object":
        record.update(digest=next(n["digest"] for n in nodes if n["id"] == "album/export/streaming"), kind="json")
    else:  # the kick's record, its key field set to the bass's file name
        record = {**json.loads(_record_path(cache, nodes, "one/stem/kick").read_text()), "key": record["key"]}
    victim.write_text(json.dumps(record))

    code, bad = verify(cache_dir)
    assert code != 0 and [b["path"] for b in bad] == [str(victim)]
    proc = build(project.path, cache_dir, out, jobs=1)
    assert proc.returncode == 0, proc.stderr
    assert {n["id"]: n["status"] for n in report(out)["nodes"]}["one/stem/bass"] == "rendered"
    assert deliverables(out) == clean
    code, bad = verify(cache_dir)
    assert code == 0 and bad == []
