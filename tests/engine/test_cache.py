"""Contract tests for pipeline.atomic and pipeline.cache."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mixbuild.pipeline import atomic
from mixbuild.pipeline.atomic import atomic_path, atomic_save_npy, atomic_write_bytes, atomic_write_json
from mixbuild.pipeline.cache import Cache, clear_verified_memo, layout, pruning, resolve_cache_dir
from mixbuild.pipeline.cache.pruning import TEMP_GRACE_S
from mixbuild.pipeline.digest import digest_array, digest_bytes
from mixbuild.pipeline.key import node_key


def _temps(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file() and atomic.is_temp_name(p.name)]


def _audio(seed: int, frames: int = 4800, channels: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (frames, channels)).astype(np.float32)


def _set_mtime(path: Path, seconds_ago: float) -> None:
    t = time.time_ns() - int(seconds_ago * 1e9)
    os.utime(path, ns=(t, t))


def _preimage(i: int) -> dict:
    return {"kind": "test", "code": "v1", "params": {"i": i}, "inputs": {}, "libs": {}}


def _key(i: int) -> str:
    return node_key(_preimage(i))


@pytest.fixture()
def cache(tmp_path) -> Cache:
    clear_verified_memo()
    return Cache(tmp_path / "cache")


def _store(cache: Cache, arr: np.ndarray, i: int = 0) -> tuple[str, str]:
    digest = cache.put_array(arr)
    key = _key(i)
    cache.put_action(key, {"digest": digest, "kind": "array", "stage": "test", "node_id": f"song/stem/{i}",
                           "seconds": 0.01, "preimage": _preimage(i), "refs": {}})
    return key, digest


# ---------------------------------------------------------------- atomic writes


def test_atomic_writers_round_trip(tmp_path):
    atomic_write_bytes(tmp_path / "a" / "b.bin", b"\x00\x01")
    atomic_write_json(tmp_path / "j.json", {"b": 1, "a": [1.5]})
    arr = _audio(0, 10)
    atomic_save_npy(tmp_path / "x.npy", arr)
    assert (tmp_path / "a" / "b.bin").read_bytes() == b"\x00\x01"
    assert json.loads((tmp_path / "j.json").read_text()) == {"a": [1.5], "b": 1}
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), arr)
    atomic_write_bytes(tmp_path / "a" / "b.bin", b"new")  # replaces
    assert (tmp_path / "a" / "b.bin").read_bytes() == b"new"
    assert _temps(tmp_path) == []


def test_atomic_failure_leaves_no_temp_and_no_target(tmp_path, monkeypatch):
    def broken_fsync(fd):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk on fire"):
        atomic_write_bytes(tmp_path / "x.bin", b"payload")
    assert list(tmp_path.iterdir()) == []


def test_atomic_failure_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "x.npy"
    atomic_save_npy(target, np.ones(3))

    def save_half_then_fail(fh, arr, allow_pickle=False):
        fh.write(b"\x93NUMPY half a header")
        raise RuntimeError("killed mid-write")

    monkeypatch.setattr(np, "save", save_half_then_fail)
    with pytest.raises(RuntimeError, match="mid-write"):
        atomic_save_npy(target, np.zeros(3))
    np.testing.assert_array_equal(np.load(target), np.ones(3))
    assert _temps(tmp_path) == []
    with pytest.raises(RuntimeError):
        atomic_save_npy(tmp_path / "new.npy", np.zeros(3))
    assert not (tmp_path / "new.npy").exists()


def test_atomic_path_for_named_writers(tmp_path):
    target = tmp_path / "out" / "song.wav"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".wav" and tmp != target
        tmp.write_bytes(b"RIFF")
        assert not target.exists()
    assert target.read_bytes() == b"RIFF"

    with pytest.raises(KeyError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise KeyError("encoder crashed")
    assert target.read_bytes() == b"RIFF"
    assert _temps(tmp_path) == []


def test_temp_names_are_unique(tmp_path):
    names = {atomic._temp_path(tmp_path / "x.npy").name for _ in range(200)}
    assert len(names) == 200
    assert all(str(os.getpid()) in n and atomic.is_temp_name(n) for n in names)


# ---------------------------------------------------------------- objects


def test_resolve_cache_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MIXBUILD_CACHE", raising=False)
    assert resolve_cache_dir(None) == tmp_path / "cache"
    monkeypatch.setenv("MIXBUILD_CACHE", str(tmp_path / "env"))
    assert resolve_cache_dir(None) == tmp_path / "env"
    assert resolve_cache_dir("cli") == tmp_path / "cli"


def test_array_round_trip_is_a_read_only_memmap(cache):
    arr = _audio(1)
    digest = cache.put_array(arr)
    assert digest == digest_array(arr)
    path = cache.array_path(digest)
    assert path == cache.root / "objects" / digest[:2] / f"{digest}.npy"
    loaded = cache.load_array(digest)
    assert isinstance(loaded, np.memmap) and loaded.dtype == np.float32 and not loaded.flags.writeable
    np.testing.assert_array_equal(loaded, arr)
    with pytest.raises(ValueError):
        loaded[0, 0] = 1.0
    in_memory = cache.load_array(digest, mmap=False)
    assert not isinstance(in_memory, np.memmap)
    np.testing.assert_array_equal(in_memory, arr)


def test_dtype_is_stored_as_given(cache):
    for arr in (np.arange(5, dtype=np.int16), np.zeros((3, 1), np.float64), np.zeros((0, 2), np.float32)):
        loaded = cache.load_array(cache.put_array(arr))
        assert loaded.dtype == arr.dtype and loaded.shape == arr.shape


def test_put_existing_array_touches_it(cache):
    arr = _audio(2)
    digest = cache.put_array(arr)
    path = cache.array_path(digest)
    _set_mtime(path, 3600)
    inode = path.stat().st_ino
    assert cache.put_array(arr.copy()) == digest
    assert time.time() - path.stat().st_mtime < 60
    assert path.stat().st_ino == inode  # not rewritten


def test_json_round_trip(cache):
    decision = {"album_gain_db": -2.0, "tonal_target": [1.5, 2.0], "note": "ü"}
    digest = cache.put_json(decision)
    assert cache.put_json({"tonal_target": [1.5, 2], "note": "ü", "album_gain_db": -2}) == digest
    assert cache.load_json(digest) == {"album_gain_db": -2, "tonal_target": [1.5, 2], "note": "ü"}
    assert cache.json_path(digest).is_file()
    key = _key(99)
    cache.put_action(key, {"digest": digest, "kind": "json", "stage": "album_tonal"})
    assert cache.check_action(key)[0] == "ok"


def test_bad_digests_and_keys_are_refused(cache):
    for bad in ("../../etc/passwd", "ABCDEF" * 6, "", None):
        with pytest.raises(ValueError):
            cache.array_path(bad)
        with pytest.raises(ValueError):
            cache.action_path(bad)


# ---------------------------------------------------------------- actions


def test_action_round_trip(cache):
    key, digest = _store(cache, _audio(3), 3)
    status, record = cache.check_action(key)
    assert status == "ok" and record["digest"] == digest and record["kind"] == "array" and record["key"] == key
    assert record["node_id"] == "song/stem/3" and record["seconds"] == 0.01
    assert abs(record["created"] - time.time()) < 60
    assert set(record) == {"key", "digest", "kind", "stage", "node_id", "seconds", "preimage", "refs", "created"}
    assert cache.action_path(key) == cache.root / "actions" / key[:2] / f"{key}.json"
    assert cache.read_action(key) == record


def test_action_keeps_its_preimage_and_refs(cache):
    preimage = {"kind": "eq", "code": "c0de", "params": {"gain_db": 1.5, "bands": [[100, -2]]},
                "inputs": {"audio": digest_bytes(b"kick"), "sidechain": [digest_bytes(b"snare")]},
                "libs": {"numpy": "2.0"}}
    refs = {"audio": "stems/kick.wav", "sidechain": ["song/stem/snare"]}
    key = node_key(preimage)
    digest = cache.put_array(_audio(31))
    stored = cache.put_action(key, {"digest": digest, "kind": "array", "preimage": preimage, "refs": refs})
    assert stored["preimage"] == preimage and stored["refs"] == refs
    record = cache.read_action(key)
    assert record == stored and record["preimage"] == preimage and record["refs"] == refs
    assert node_key(record["preimage"]) == key  # the stored preimage explains the key
    assert cache.check_action(key) == ("ok", record)


def test_optional_record_fields_default_to_none(cache):
    digest = cache.put_array(_audio(32))
    record = cache.put_action(_key(32), {"digest": digest, "kind": "array"})
    assert all(record[field] is None for field in ("stage", "node_id", "seconds", "preimage", "refs"))
    assert cache.read_action(_key(32)) == record


def test_read_action_outlives_its_object(cache):
    key, digest = _store(cache, _audio(33), 33)
    cache.array_path(digest).unlink()  # as a prune would
    assert cache.check_action(key)[0] == "missing"
    assert cache.read_action(key)["preimage"] == _preimage(33)  # plan/explain can still say what it was


def test_missing_action(cache):
    assert cache.check_action(_key(1)) == ("missing", None)
    assert cache.read_action(_key(1)) is None


def test_action_needs_its_object(cache):
    with pytest.raises(ValueError, match="missing"):
        cache.put_action(_key(1), {"digest": "0" * 32, "kind": "array"})
    with pytest.raises(ValueError, match="kind"):
        cache.put_action(_key(1), {"digest": cache.put_array(np.ones(2)), "kind": "wav"})


def _flip_byte(path: Path, offset: int = -5) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset, os.SEEK_END)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0x01]))


def test_flipped_byte_is_corrupt(cache):
    key, digest = _store(cache, _audio(4))
    _flip_byte(cache.array_path(digest))
    clear_verified_memo()  # as in the next build's process
    status, record = cache.check_action(key)
    assert status == "corrupt" and record["digest"] == digest
    problems = cache.verify()
    paths = {p["path"]: p for p in problems}
    assert str(cache.array_path(digest)) in paths
    assert "mismatch" in paths[str(cache.array_path(digest))]["reason"]
    assert str(cache.action_path(key)) in paths  # the action pointing to it is listed too


def test_in_process_memo_sees_a_changed_file(cache):
    key, digest = _store(cache, _audio(5))
    assert cache.check_action(key)[0] == "ok"  # verified, memoised
    path = cache.array_path(digest)
    _flip_byte(path)
    _set_mtime(path, 10)  # a distinct stat: in-place edits in the same clock tick are the memo's blind spot
    assert cache.check_action(key)[0] == "corrupt"


def test_verification_is_kept_across_processes_until_the_file_is_touched(cache, monkeypatch):
    """A no-op build does not re-read the cache: what an earlier process verified is trusted while the
    object's size, mtime, ctime and inode are unchanged; a write into it (the ctime moves, whatever is done
    to the mtime) is hashed again and found; `cache verify` re-hashes regardless."""
    import mixbuild.pipeline.cache.objects as objects

    key, digest = _store(cache, _audio(9))
    other_key, other = _store(cache, _audio(10))
    time.sleep(0.01)  # a later clock tick for the writes below
    assert cache.check_action(key)[0] == "ok" and cache.check_action(other_key)[0] == "ok"
    cache.remember_verified()
    hashed: list[Path] = []
    real_hash = objects._hash_object
    monkeypatch.setattr(objects, "_hash_object", lambda path, kind: hashed.append(path) or real_hash(path, kind))

    clear_verified_memo()  # the next build's process
    cache.recall_verified()
    assert cache.check_action(key)[0] == "ok" and hashed == []  # vouched for by the memo, not read

    path = cache.array_path(other)
    stamp = path.stat()
    _flip_byte(path)
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # the mtime set back; the ctime moved
    clear_verified_memo()
    cache.recall_verified()
    assert cache.check_action(other_key)[0] == "corrupt" and hashed == [path]
    assert any(p["path"] == str(path) for p in cache.verify())
    assert len(hashed) >= 3  # verify hashed both objects, memo or not


def test_a_garbled_verified_memo_vouches_for_nothing(cache):
    key, digest = _store(cache, _audio(11))
    _flip_byte(cache.array_path(digest))
    cache.layout.verified_memo_path.parent.mkdir(parents=True, exist_ok=True)
    for garbage in (b"not json", b'{"version": 1, "entries": {"x": [1, 2]}}', b"[]"):
        cache.layout.verified_memo_path.write_bytes(garbage)
        clear_verified_memo()
        cache.recall_verified()
        assert cache.check_action(key)[0] == "corrupt"


def test_truncated_object_is_corrupt(cache):
    key, digest = _store(cache, _audio(6))
    path = cache.array_path(digest)
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)
    clear_verified_memo()
    assert cache.check_action(key)[0] == "corrupt"
    with open(path, "r+b") as fh:
        fh.truncate(10)  # not even a header
    clear_verified_memo()
    assert cache.check_action(key)[0] == "corrupt"
    assert any(p["path"] == str(path) for p in cache.verify())


def test_deleted_object_is_missing(cache):
    key, digest = _store(cache, _audio(7))
    cache.array_path(digest).unlink()
    status, record = cache.check_action(key)
    assert status == "missing" and record["digest"] == digest
    assert any("missing" in p["reason"] for p in cache.verify())


def test_corrupt_object_is_rewritten_by_put(cache):
    arr = _audio(8)
    key, digest = _store(cache, arr)
    _flip_byte(cache.array_path(digest))
    clear_verified_memo()
    assert cache.check_action(key)[0] == "corrupt"
    assert cache.put_array(arr) == digest  # a re-render repairs the entry
    assert cache.check_action(key)[0] == "ok"


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"{not json",
        b"\xff\xfe\x00garbage",
        b"[]",
        b'{"digest": "abc", "kind": "array"}',
        b'{"key": "KEY", "digest": "' + b"0" * 32 + b'", "kind": "wav"}',
        b'{"key": "KEY", "digest": 5, "kind": "array"}',
        b'{"key": "0123456789abcdef0123456789abcdef", "digest": "DIGEST", "kind": "array"}',
    ],
)
def test_garbage_action_is_none_without_exception(cache, garbage):
    key, digest = _store(cache, _audio(9))
    cache.action_path(key).write_bytes(garbage.replace(b"KEY", key.encode()).replace(b"DIGEST", digest.encode()))
    assert cache.read_action(key) is None
    assert cache.check_action(key) == ("corrupt", None)
    assert [p["what"] for p in cache.verify()] == ["action"]


def test_verify_repair(cache):
    good_key, _good = _store(cache, _audio(10), 1)
    bad_key, bad = _store(cache, _audio(11), 2)
    _flip_byte(cache.array_path(bad))
    assert len(cache.verify(repair=True)) == 2
    assert cache.verify() == []
    assert cache.check_action(good_key)[0] == "ok"
    assert cache.check_action(bad_key) == ("missing", None)


def test_stats(cache):
    assert cache.stats()["objects"] == 0  # an absent root is an empty cache
    _store(cache, _audio(12), 1)
    _store(cache, _audio(13), 2)
    cache.put_json({"album_gain_db": -1.5})
    stats = cache.stats()
    assert stats["objects"] == 3 and stats["arrays"] == 2 and stats["json_objects"] == 1
    assert stats["actions"] == 2
    # disk bytes, as du counts them (a file takes whole blocks; holes take none)
    assert stats["object_bytes"] == sum(p.stat().st_blocks * 512 for p in (cache.root / "objects").rglob("*.*"))
    (cache.objects_dir / "ab").mkdir(exist_ok=True)
    (cache.objects_dir / "ab" / f".{'ab' * 16}.npy.123-0123456789ab.tmp.npy").write_bytes(b"half-written")  # not an object
    assert layout.object_bytes(cache.layout) == stats["object_bytes"]


# ---------------------------------------------------------------- racing writers


def _racer(root: str, barrier, rounds: int) -> None:
    racer_cache = Cache(root)
    barrier.wait()
    for _ in range(rounds):
        for i in range(3):
            _store(racer_cache, _audio(100 + i, frames=48000), i)
        racer_cache.put_json({"album_gain_db": -3.0})


def test_concurrent_writers_leave_valid_entries(cache):
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_racer, args=(str(cache.root), barrier, 5)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0, 0, 0, 0]
    clear_verified_memo()
    assert cache.verify() == []
    for i in range(3):
        status, record = cache.check_action(_key(i))
        assert status == "ok"
        np.testing.assert_array_equal(cache.load_array(record["digest"]), _audio(100 + i, frames=48000))
    assert cache.stats()["objects"] == 4 and cache.stats()["actions"] == 3
    assert _temps(cache.root) == []


# ---------------------------------------------------------------- prune and leases


def _aged_objects(cache: Cache, ages_s: list[float]) -> list[tuple[str, str]]:
    stored = []
    for i, age in enumerate(ages_s):
        key, digest = _store(cache, _audio(200 + i, frames=1000), i)
        _set_mtime(cache.array_path(digest), age)
        stored.append((key, digest))
    return stored


def test_prune_by_age(cache):
    stored = _aged_objects(cache, [3000, 2000, 10])
    report = cache.prune(older_than_s=1500)
    assert report["removed_objects"] == 2 and report["removed_actions"] == 2
    assert [cache.check_action(k)[0] for k, _ in stored] == ["missing", "missing", "ok"]
    assert not cache.action_path(stored[0][0]).exists()
    assert cache.verify() == []


def test_an_object_used_in_the_future_ages_from_now(cache):
    """A wrong clock, or files copied with their timestamps: an mtime ten years ahead made an object never
    old enough to prune and always the most recently used; prune marks it used now, and it ages from there."""
    stored = _aged_objects(cache, [-10 * 365 * 86400, 3000])  # seconds ago: the first is ten years ahead
    future = cache.array_path(stored[0][1])
    report = cache.prune(older_than_s=1500)
    assert future.stat().st_mtime_ns <= time.time_ns()  # (a hit would touch it: looked at before any)
    assert [cache.check_action(k)[0] for k, _ in stored] == ["ok", "missing"] and report["removed_objects"] == 1
    size = future.stat().st_blocks * 512
    older_key, older = _store(cache, _audio(300, frames=1000), 50)
    _set_mtime(cache.array_path(older), 60)  # used a minute ago: before the clamped object's "now"
    cache.prune(max_size_bytes=size)
    assert cache.check_action(stored[0][0])[0] == "ok" and cache.check_action(older_key)[0] == "missing"
    time.sleep(0.01)
    assert cache.prune(older_than_s=0.005)["removed_objects"] == 1  # it ages like any other


def test_prune_by_size_removes_least_recently_used(cache):
    stored = _aged_objects(cache, [100, 400, 300, 200])  # LRU order: 1, 2, 3, 0
    size = cache.array_path(stored[0][1]).stat().st_blocks * 512  # on disk
    report = cache.prune(max_size_bytes=2 * size)
    assert report["removed_objects"] == 2 and report["kept_bytes"] == 2 * size and not report["over_budget"]
    assert [cache.check_action(k)[0] for k, _ in stored] == ["ok", "missing", "missing", "ok"]


def test_prune_never_removes_what_a_live_build_uses(cache):
    stored = _aged_objects(cache, [1000, 1000, 1000])
    with cache.lease() as lease:
        assert lease.path.is_file()
        assert cache.check_action(stored[1][0])[0] == "ok"  # a cache hit touches its object
        fresh = cache.put_array(_audio(300, frames=1000))  # a new render during the build
        report = cache.prune(max_size_bytes=0)
        assert report["removed_objects"] == 2 and report["protected_by_lease"] == 2 and report["over_budget"]
        assert cache.check_action(stored[1][0])[0] == "ok"
        assert cache.check_object(fresh)[0] == "ok"
        assert cache.check_action(stored[0][0])[0] == "missing"
    assert not lease.path.exists()  # released
    assert cache.prune(max_size_bytes=0)["removed_objects"] == 2


def test_lease_is_released_on_error(cache):
    with pytest.raises(RuntimeError):
        with cache.lease() as lease:
            raise RuntimeError("render failed")
    assert not lease.path.exists()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_lease_is_ignored_and_removed(cache):
    stored = _aged_objects(cache, [1000, 1000])
    stale = cache.leases_dir / f"{_dead_pid()}-deadbeef.json"
    atomic_write_json(stale, {"pid": int(stale.name.split("-")[0]), "host": socket.gethostname(), "start": 0})
    _set_mtime(stale, 2000)  # it started before the objects were last used
    garbage = cache.leases_dir / "1-garbage.json"
    garbage.write_bytes(b"{oops")
    assert cache.stats()["live_leases"] == 0
    report = cache.prune(max_size_bytes=0)
    assert report["removed_objects"] == 2 and report["stale_leases_removed"] == 2
    assert not stale.exists() and not garbage.exists()
    assert [cache.check_action(k)[0] for k, _ in stored] == ["missing", "missing"]


def test_foreign_host_lease_counts_as_live(cache):
    _aged_objects(cache, [1000])
    lease = cache.leases_dir / "1-remote.json"
    atomic_write_json(lease, {"pid": 1, "host": "another-host.invalid", "start": time.time()})
    _set_mtime(lease, 500)  # the remote build started after the old object was last used
    cache.put_array(_audio(400, frames=1000))  # used after the remote build started
    report = cache.prune(max_size_bytes=0)
    assert report["removed_objects"] == 1 and report["protected_by_lease"] == 1 and report["live_leases"] == 1


def test_prune_sweeps_old_temp_files_only(cache):
    _store(cache, _audio(500, frames=100))
    shard = next((cache.root / "objects").iterdir())
    old_tmp = shard / ".dead.npy.123-abc.tmp.npy"
    new_tmp = shard / ".live.npy.456-def.tmp.npy"
    old_tmp.write_bytes(b"x")
    new_tmp.write_bytes(b"x")
    _set_mtime(old_tmp, TEMP_GRACE_S + 60)
    report = cache.prune()
    assert report["temp_files_removed"] == 1 and report["removed_objects"] == 0
    assert new_tmp.exists() and not old_tmp.exists()
    assert cache.stats()["objects"] == 1  # temps never count as objects


def test_file_digest_memo_lives_in_the_cache(cache, tmp_path):
    stem = tmp_path / "kick.wav"
    stem.write_bytes(b"kick")
    _set_mtime(stem, 3600)
    memo = cache.file_digest_memo()
    digest = memo.digest(stem)
    memo.flush()
    assert memo.memo_path.is_relative_to(cache.root) and memo.memo_path.is_file()
    assert digest in memo.memo_path.read_text()  # kept for the next process
    assert cache.file_digest_memo().digest(stem) == digest


def test_prune_keeps_an_object_touched_during_its_scan(cache, monkeypatch):
    stored = _aged_objects(cache, [1000, 1000])
    scan = pruning.scan_objects

    def scan_then_a_build_hits_one(layout):
        items = list(scan(layout))
        os.utime(cache.array_path(stored[0][1]))  # a build without a lease uses it mid-prune
        return iter(items)

    monkeypatch.setattr(pruning, "scan_objects", scan_then_a_build_hits_one)
    assert cache.prune(max_size_bytes=0)["removed_objects"] == 1
    assert [cache.check_action(k)[0] for k, _ in stored] == ["ok", "missing"]


# ---------------------------------------------------------------- blobs (encoded files referenced from JSON)


def _export(cache: Cache, i: int, payload: bytes) -> tuple[str, str, str]:
    """An album-export-like node: a JSON manifest referencing an encoded file."""
    blob = cache.put_blob(payload, ".wav")
    manifest = cache.put_json({"files": {f"{i:02d}.wav": {"blob": blob, "suffix": ".wav"}}})
    key = _key(1000 + i)
    cache.put_action(key, {"digest": manifest, "kind": "json", "stage": "album_export"})
    return key, manifest, blob


def test_blob_round_trip(cache):
    data = b"RIFF" + bytes(range(256)) * 10
    digest = cache.put_blob(data, ".wav")
    assert digest == digest_bytes(data) and cache.put_blob(data) == digest
    assert cache.blob_path(digest).read_bytes() == data
    assert cache.blob_path(digest).name == f"{digest}.blob"
    key, manifest, blob = _export(cache, 1, data)
    assert blob == digest and cache.blob_refs(manifest) == {digest}
    assert cache.check_action(key)[0] == "ok"
    assert cache.stats()["blobs"] == 1


def test_manifest_with_bad_blob_is_not_served(cache):
    key, manifest, blob = _export(cache, 1, b"RIFF wav bytes")
    _flip_byte(cache.blob_path(blob), -2)
    clear_verified_memo()
    assert cache.check_action(key)[0] == "corrupt"
    reasons = {p["path"]: p["reason"] for p in cache.verify()}
    assert "mismatch" in reasons[str(cache.blob_path(blob))]
    assert "corrupt" in reasons[str(cache.json_path(manifest))]
    cache.blob_path(blob).unlink()
    assert cache.check_action(key)[0] == "missing"


def test_hit_touches_blobs_and_prune_keeps_referenced_ones(cache):
    key, manifest, blob = _export(cache, 1, b"RIFF one")
    for path in (cache.json_path(manifest), cache.blob_path(blob)):
        _set_mtime(path, 1000)
    with cache.lease():
        assert cache.check_action(key)[0] == "ok"
        assert time.time() - cache.blob_path(blob).stat().st_mtime < 60  # the hit touched the blob too
        assert cache.prune(max_size_bytes=0)["removed_objects"] == 0
    _set_mtime(cache.json_path(manifest), 100)
    _set_mtime(cache.blob_path(blob), 1000)  # older than its manifest: still needed by it
    other_key, other_manifest, other_blob = _export(cache, 2, b"RIFF two")
    _set_mtime(cache.json_path(other_manifest), 50)
    _set_mtime(cache.blob_path(other_blob), 50)
    report = cache.prune(older_than_s=500)  # nothing but blob 1 is that old, and it is referenced
    assert report["removed_objects"] == 0
    report = cache.prune(older_than_s=75)  # manifest 1 goes, and with it its blob
    assert report["removed_objects"] == 2 and report["removed_actions"] == 1
    assert cache.check_action(key)[0] == "missing" and cache.check_action(other_key)[0] == "ok"
    assert cache.verify() == []


def test_a_manifest_evicted_frees_its_blob_at_once_so_nothing_newer_goes(cache):
    """A node's blob is stored just before its manifest, so it comes first in LRU order and is skipped while
    the manifest references it; its bytes count as freed when the manifest goes, and the pass stops there,
    keeping the newer objects (before, it evicted one more and then found the blob orphaned)."""
    key, manifest, blob = _export(cache, 1, b"RIFF" + bytes(200_000))
    _set_mtime(cache.blob_path(blob), 1001)
    _set_mtime(cache.json_path(manifest), 1000)
    newer = _aged_objects(cache, [500, 400])
    freed = sum(path.stat().st_blocks * 512 for path in (cache.blob_path(blob), cache.json_path(manifest)))
    total = sum(path.stat().st_blocks * 512 for path in (cache.root / "objects").rglob("*.*"))
    report = cache.prune(max_size_bytes=total - freed)
    assert report["removed_objects"] == 2 and report["kept_bytes"] == total - freed
    assert cache.check_action(key)[0] == "missing" and not cache.blob_path(blob).exists()
    assert [cache.check_action(k)[0] for k, _ in newer] == ["ok", "ok"] and cache.verify() == []


# ---------------------------------------------------------------- the size limit (pipeline.cache.limit)


def test_enforce_limit_evicts_lru_down_to_80_percent_of_the_limit_and_never_a_kept_digest(cache):
    stored = _aged_objects(cache, [400, 300, 200, 100])  # no lease: only `keep` protects
    size = cache.array_path(stored[0][1]).stat().st_blocks * 512  # on disk
    assert cache.enforce_limit(None) is None and cache.enforce_limit(4 * size) is None  # fits: no prune
    # 4 objects over a limit of 3.5: down to 2.8 (80 %), not just under 3.5; the oldest is the build's: it stays
    report = cache.enforce_limit(int(3.5 * size), keep={stored[0][1]})
    assert report is not None and report["protected_by_lease"] == 1 and report["removed_objects"] == 2
    assert [cache.check_action(k)[0] for k, _ in stored] == ["ok", "missing", "missing", "ok"]
    report = cache.enforce_limit(0, keep={stored[0][1]})
    assert report is not None and report["removed_objects"] == 1 and report["over_budget"]
    assert [cache.check_action(k)[0] for k, _ in stored] == ["ok", "missing", "missing", "missing"]
    assert cache.verify() == []


def test_enforce_limit_keeps_the_blobs_of_a_kept_manifest(cache):
    key, manifest, blob = _export(cache, 1, b"RIFF kept")
    other_key, _other_manifest, _other_blob = _export(cache, 2, b"RIFF evicted")
    for path in (cache.root / "objects").rglob("*.*"):
        _set_mtime(path, 1000)
    report = cache.enforce_limit(0, keep={manifest})
    assert report is not None and report["removed_objects"] == 2 and report["removed_actions"] == 1
    assert cache.check_action(key)[0] == "ok" and cache.check_action(other_key)[0] == "missing"
    assert cache.blob_path(blob).is_file() and cache.verify() == []


def test_silence_in_an_array_costs_no_disk(tmp_path):
    probe = tmp_path / "probe"
    with probe.open("wb") as fh:  # does this file system keep holes at all?
        fh.truncate(1 << 20)
    if probe.stat().st_blocks * 512 >= 1 << 20:
        pytest.skip("this file system stores holes as zeros")
    rate = 48000
    audio = np.zeros((60 * rate, 2), dtype=np.float32)  # a minute: 2 s of sound at 10 s, the rest silence
    audio[10 * rate:12 * rate] = np.random.default_rng(0).standard_normal((2 * rate, 2))
    cache = Cache(tmp_path / "cache")
    digest = cache.put_array(audio)
    path = cache.array_path(digest)
    np.save(tmp_path / "plain.npy", audio)
    assert path.read_bytes() == (tmp_path / "plain.npy").read_bytes()  # the same .npy, byte for byte
    assert np.array_equal(cache.load_array(digest), audio)
    on_disk = path.stat().st_blocks * 512
    assert on_disk < audio.nbytes / 10  # the 2 s of sound (3 % of the minute) and block rounding
    assert cache.stats()["object_bytes"] == on_disk


def test_verify_reports_symlinked_shards_and_objects_and_repair_removes_only_the_links(cache, tmp_path):
    """The scan does not follow links, a build would read through one: verify said clean about objects it
    never looked at."""
    _, digest = _store(cache, _audio(12))
    _, other = _store(cache, _audio(13), 1)
    shard = cache.array_path(digest).parent
    elsewhere = tmp_path / "elsewhere"
    shard.rename(elsewhere)
    shard.symlink_to(elsewhere, target_is_directory=True)
    linked = cache.array_path(other)
    if linked.parent != shard:  # the other object's own shard: its file becomes a link
        real = tmp_path / "real.npy"
        linked.rename(real)
        linked.symlink_to(real)
    problems = cache.verify()
    assert {p["path"] for p in problems} >= {str(shard)} and all("symbolic link" in p["reason"] for p in problems)
    cache.verify(repair=True)
    assert not shard.exists() and elsewhere.is_dir() and any(elsewhere.iterdir())  # the link went, not its target
    left = cache.verify()  # the records of what was behind the links now point at nothing: missing, re-rendered
    assert left and all(p["what"] == "action" and p["reason"].endswith("missing") for p in left)
