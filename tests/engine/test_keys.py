"""Contract tests for the key's parts: digests, canonical JSON, the file memo, code versions, node keys."""

from __future__ import annotations

import importlib
import json
import os
import sys
import textwrap
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra import numpy as hnp

from mixbuild.pipeline import filememo
from mixbuild.pipeline.codeversion import clear_code_version_memo, code_version
from mixbuild.pipeline.digest import CHUNK_BYTES, canonical_json, digest_array, digest_bytes, digest_file
from mixbuild.pipeline.filememo import FileDigestMemo
from mixbuild.pipeline.key import changed_fields, diff, library_versions, node_key, preimage

# ---------------------------------------------------------------- pinned digests
# These literals are the key format. If one changes, every cache in the wild is
# invalidated: change them only on purpose, together with a note in the changelog.

PINNED_BYTES = "927606b0ef4df61e712621a5a9aaf115"  # digest_bytes(b"mixbuild")
PINNED_ZEROS = "f3f108cb6fc7de2f3a303b3167f2e0b2"  # digest_array(np.zeros((2, 2), np.float32))
PINNED_NODE_KEY = "2717e2b2c3391e727eef94b0f6810c67"


def test_pinned_digest_bytes():
    assert digest_bytes(b"mixbuild") == PINNED_BYTES


def test_pinned_digest_array():
    assert digest_array(np.zeros((2, 2), np.float32)) == PINNED_ZEROS


def test_pinned_node_key():
    key = node_key({
        "kind": "eq",
        "code": "c" * 32,
        "params": {"gain_db": 1.0, "freq_hz": 90, "type": "low_shelf"},
        "inputs": ["a" * 32, "b" * 32],
        "libs": {"numpy": "2.4.6", "scipy": "1.17.1"},
    })
    assert key == PINNED_NODE_KEY


def test_digests_are_32_lowercase_hex():
    for digest in (digest_bytes(b""), digest_array(np.ones(3)), node_key(preimage("k", "v", {}, {}))):
        assert len(digest) == 32 and set(digest) <= set("0123456789abcdef")


# ---------------------------------------------------------------- arrays


def test_same_bytes_other_dtype_differs():
    a = np.zeros((2, 2), np.float32)
    b = np.zeros((2, 2), np.int32)
    assert a.tobytes() == b.tobytes()
    assert digest_array(a) != digest_array(b)


def test_same_bytes_other_shape_differs():
    a = np.arange(6, dtype=np.float32)
    assert digest_array(a) != digest_array(a.reshape(2, 3)) != digest_array(a.reshape(3, 2))
    assert digest_array(a.reshape(2, 3)) != digest_array(a.reshape(3, 2))


def test_byte_order_is_part_of_dtype():
    a = np.arange(4, dtype="<f4")
    assert digest_array(a) != digest_array(a.astype(">f4"))


def test_values_change_digest():
    a = np.zeros((8, 2), np.float32)
    b = a.copy()
    b[3, 1] = 1e-30
    assert digest_array(a) != digest_array(b)


def test_layout_does_not_change_digest():
    a = np.arange(48, dtype=np.float64).reshape(8, 6)
    assert digest_array(np.asfortranarray(a)) == digest_array(a)
    assert digest_array(a[::2, 1::2]) == digest_array(a[::2, 1::2].copy())
    assert digest_array(a.T) == digest_array(np.ascontiguousarray(a.T))


def test_large_strided_views_hash_in_blocks():
    # rows larger than a block (transposed audio) and many rows per block both match a copy
    audio = np.random.default_rng(0).standard_normal((CHUNK_BYTES // 4 + 100, 2)).astype(np.float32)
    assert digest_array(audio.T) == digest_array(audio.T.copy())
    assert digest_array(audio[::3]) == digest_array(audio[::3].copy())
    assert digest_array(audio[:, 1]) == digest_array(audio[:, 1].copy())


def test_memmap_hashes_like_array(tmp_path):
    a = np.random.default_rng(1).standard_normal((1000, 2)).astype(np.float32)
    np.save(tmp_path / "a.npy", a)
    assert digest_array(np.load(tmp_path / "a.npy", mmap_mode="r")) == digest_array(a)


def test_zero_d_and_empty_arrays():
    assert digest_array(np.float32(1.0)) == digest_array(np.array(1.0, np.float32))
    assert digest_array(np.zeros((0, 2), np.float32)) != digest_array(np.zeros((0, 1), np.float32))


def test_object_arrays_refused():
    with pytest.raises(TypeError, match="object"):
        digest_array(np.array([1, "a"], dtype=object))


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(min_dims=1, max_dims=3, max_side=6)))
def test_digest_depends_on_logical_content_only(arr):
    assert digest_array(arr) == digest_array(np.asfortranarray(arr))
    assert digest_array(arr[::-1]) == digest_array(arr[::-1].copy())


# ---------------------------------------------------------------- canonical JSON


def test_canonical_json_key_order():
    assert canonical_json({"b": 1, "a": {"d": 2, "c": 3}}) == canonical_json({"a": {"c": 3, "d": 2}, "b": 1})
    assert canonical_json({"b": 1, "a": 2}) == '{"a":2,"b":1}'


def test_canonical_json_integral_floats():
    assert canonical_json({"gain_db": 1}) == canonical_json({"gain_db": 1.0})
    assert canonical_json({"bands": [{"q": 2.0}], "x": -0.0}) == '{"bands":[{"q":2}],"x":0}'
    assert canonical_json({"gain_db": 1.5}) == '{"gain_db":1.5}'
    assert canonical_json(np.float32(3.0)) == "3"


def test_canonical_json_keeps_bools_and_unicode():
    assert canonical_json({"on": True}) != canonical_json({"on": 1})
    assert canonical_json([True, False, None]) == "[true,false,null]"
    assert canonical_json({"title": "Nachtfahrt — Ü"}) == '{"title":"Nachtfahrt — Ü"}'
    assert canonical_json((1, 2)) == canonical_json([1, 2])


def test_canonical_json_rejects_nan_and_odd_keys():
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
    with pytest.raises(ValueError):
        canonical_json([float("inf")])
    with pytest.raises(TypeError, match="keys must be str"):
        canonical_json({1: "a"})
    with pytest.raises(TypeError):
        canonical_json({"x": object()})


# ---------------------------------------------------------------- node keys


def test_node_key_canonical_params():
    a = node_key(preimage("eq", "v1", {"gain_db": 1, "freq_hz": 90.0}, {"source": "x"}))
    b = node_key(preimage("eq", "v1", {"freq_hz": 90, "gain_db": 1.0}, {"source": "x"}))
    assert a == b


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "compressor"},
        {"code": "v2"},
        {"params": {"gain_db": 2}},
        {"inputs": {"sources": ["y", "x"]}},
        {"inputs": {"sources": ["x"]}},
        {"inputs": {"others": ["x", "y"]}},
        {"libs": {"numpy": "2.1"}},
    ],
)
def test_node_key_changes_with_each_part(change):
    base = {"kind": "eq", "code": "v1", "params": {"gain_db": 1}, "inputs": {"sources": ["x", "y"]},
            "libs": {"numpy": "2.0"}}
    assert node_key(base) != node_key({**base, **change})


def test_diff_names_the_changed_params_inputs_code_and_libraries():
    refs = {"master": "one/master", "album_gain": "album/gain/cd"}
    old = {"kind": "final", "code": "v1", "params": {"limiter": {"release_ms": 100}, "target_lufs": -14},
           "inputs": {"master": "a", "album_gain": "g"}, "libs": {"numpy": "2.0", "scipy": "1.0"}}
    new = {**old, "code": "v2", "params": {"limiter": {"release_ms": 50}, "target_lufs": -14},
           "inputs": {"master": "b", "album_gain": "g"}, "libs": {"numpy": "2.1", "scipy": "1.0"}}
    changes = diff(old, new, refs, refs)
    assert changes.code and changes.libs == ["numpy"] and changes.params == ["limiter.release_ms"]
    assert changes.inputs == [{"input": "master", "ref": "one/master", "was": "a", "now": "b"}]
    assert diff(None, new, {}, refs).new
    assert diff(new, new, refs, refs) == diff(old, old, refs, refs)  # nothing differs: no change listed


def test_diff_of_list_inputs_pairs_by_source_and_skips_unknown_digests():
    old = {"kind": "mixdown", "code": "v", "params": {}, "libs": {}, "inputs": {"sources": ["k", "s"]}}
    new = {**old, "inputs": {"sources": ["k", "s2", "h"]}}
    old_refs = {"sources": ["x/stem/kick", "x/stem/snare"]}
    new_refs = {"sources": ["x/stem/kick", "x/stem/snare", "x/stem/hat"]}
    changed = diff(old, new, old_refs, new_refs).inputs
    assert [(c["ref"], c["was"], c["now"]) for c in changed] == [("x/stem/snare", "s", "s2"), ("x/stem/hat", None, "h")]
    assert diff(old, {**old, "inputs": {"sources": None}}, old_refs, new_refs).inputs == []  # upstream re-renders


def test_changed_fields_dotted():
    assert changed_fields({"a": 1, "b": {"c": 2}}, {"a": 1, "b": {"c": 3}, "d": 4}) == ["b.c", "d"]


def test_library_versions():
    versions = library_versions()
    assert versions["numpy"] == np.__version__
    assert library_versions(("numpy", "surely-not-installed-xyz")) == {"numpy": np.__version__}


# ---------------------------------------------------------------- files


@pytest.fixture()
def read_counter(monkeypatch):
    """Count full reads of a file's bytes (the memo exists to avoid them)."""
    calls: list[str] = []
    real = filememo.digest_file

    def spy(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(filememo, "digest_file", spy)
    return calls


def _age(path: Path, seconds: float = 3600) -> None:
    """Backdate a file's mtime (a freshly written file is racy and never memoised)."""
    old = time.time_ns() - int(seconds * 1e9)
    os.utime(path, ns=(old, old))


def test_digest_file_streams_big_files(tmp_path):
    data = np.random.default_rng(2).bytes(2 * CHUNK_BYTES + 12345)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert digest_file(path) == digest_bytes(data)
    assert FileDigestMemo(tmp_path / "memo.json").digest(path) == digest_bytes(data)


def test_memo_avoids_rereading_across_processes(tmp_path, read_counter):
    path = tmp_path / "kick.wav"
    path.write_bytes(b"RIFF....kick")
    _age(path)
    memo_path = tmp_path / "memo" / "digests.json"
    memo = FileDigestMemo(memo_path)
    first = memo.digest(path)
    memo.flush()
    assert len(read_counter) == 1
    assert FileDigestMemo(memo_path).digest(path) == first  # a new process: memo read from disk
    assert len(read_counter) == 1


def test_a_plans_sources_are_read_side_by_side_then_looked_up(tmp_path, monkeypatch):
    # digest_all reads the files on two threads at once (each read waits for the other to start: one thread
    # alone would time out), and the plan's own `digest` of each is then a lookup, with the same digest.
    import threading

    paths = []
    for name in ("kick", "snare", "bass", "vocal"):
        path = tmp_path / f"{name}.wav"
        path.write_bytes(name.encode() * 1000)
        _age(path)
        paths.append(str(path))
    both_reading = threading.Barrier(2, timeout=10.0)
    reads: list[str] = []
    real = filememo.digest_file

    def side_by_side_read(path):
        reads.append(path)
        both_reading.wait()  # raises BrokenBarrierError after 10 s if no second read runs meanwhile
        return real(path)

    monkeypatch.setattr(filememo, "digest_file", side_by_side_read)
    memo = FileDigestMemo(tmp_path / "memo.json")
    memo.digest_all(paths + paths[:1], threads=2)  # a file named twice is read once
    assert sorted(reads) == sorted(paths)
    later: list[str] = []
    monkeypatch.setattr(filememo, "digest_file", lambda path: later.append(path) or real(path))
    assert [memo.digest(p) for p in paths] == [digest_bytes(Path(p).read_bytes()) for p in paths]
    assert later == []


def test_memo_touch_without_change_keeps_digest(tmp_path, read_counter):
    path = tmp_path / "snare.wav"
    path.write_bytes(b"snare bytes")
    _age(path, 7200)
    memo = FileDigestMemo(tmp_path / "memo.json")
    before = memo.digest(path)
    _age(path, 3600)  # touched: mtime differs, bytes do not
    assert memo.digest(path) == before
    assert len(read_counter) == 2  # the changed stat forces one re-read
    assert memo.digest(path) == before
    assert len(read_counter) == 2


def test_memo_byte_change_gives_new_digest(tmp_path):
    path = tmp_path / "bass.wav"
    path.write_bytes(b"bass take 1")
    _age(path, 7200)
    memo = FileDigestMemo(tmp_path / "memo.json")
    before = memo.digest(path)
    path.write_bytes(b"bass take 2")  # same size, new mtime
    _age(path, 3600)
    assert memo.digest(path) == digest_bytes(b"bass take 2") != before
    memo.flush()
    assert FileDigestMemo(tmp_path / "memo.json").digest(path) == digest_bytes(b"bass take 2")


def test_an_in_place_edit_that_restores_size_and_mtime_is_seen(tmp_path):
    """cp -p, rsync -t, touch -d: same size, mtime set back; the ctime moved, and the memo reads again."""
    path = tmp_path / "bounce.wav"
    path.write_bytes(b"take one")
    _age(path, 7200)
    stamp = os.stat(path)
    memo = FileDigestMemo(tmp_path / "memo.json")
    assert memo.digest(path) == digest_bytes(b"take one")
    memo.flush()
    time.sleep(0.01)  # a later ctime tick
    with open(path, "r+b") as fh:  # in place: same inode, same size
        fh.write(b"take two")
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert FileDigestMemo(tmp_path / "memo.json").digest(path) == digest_bytes(b"take two")


def test_memoising_many_new_files_writes_the_memo_once(tmp_path, monkeypatch):
    import mixbuild.pipeline.filememo as filememo

    writes = []
    monkeypatch.setattr(filememo, "atomic_write_json", lambda *a, **k: writes.append(a[0]))
    memo = FileDigestMemo(tmp_path / "memo.json")
    for i in range(50):
        path = tmp_path / f"stem{i}.wav"
        path.write_bytes(bytes([i]) * 10)
        _age(path)
        memo.digest(path)
    assert writes == []
    memo.flush()
    memo.flush()  # nothing new learned: no write
    assert len(writes) == 1


def test_memo_does_not_memoise_racy_fresh_files(tmp_path, read_counter):
    path = tmp_path / "fresh.wav"
    path.write_bytes(b"just written")
    memo = FileDigestMemo(tmp_path / "memo.json")
    memo.digest(path)
    memo.digest(path)
    assert len(read_counter) == 2


def test_corrupt_memo_is_ignored_and_rewritten(tmp_path):
    path = tmp_path / "vocal.wav"
    path.write_bytes(b"vocal")
    _age(path)
    memo_path = tmp_path / "memo.json"
    memo_path.write_bytes(b"\x00{not json")
    memo = FileDigestMemo(memo_path)
    assert memo.digest(path) == digest_bytes(b"vocal")
    memo.flush()
    rewritten = json.loads(memo_path.read_text())["entries"][os.path.realpath(path)]
    assert rewritten["digest"] == digest_bytes(b"vocal")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left behind


def test_memo_is_keyed_on_realpath(tmp_path, read_counter):
    path = tmp_path / "real.wav"
    path.write_bytes(b"data")
    _age(path)
    link = tmp_path / "link.wav"
    link.symlink_to(path)
    memo = FileDigestMemo(tmp_path / "memo.json")
    assert memo.digest(path) == memo.digest(link)
    assert len(read_counter) == 1


# ---------------------------------------------------------------- code versions


@pytest.fixture()
def stage_pkg(tmp_path, monkeypatch):
    """A throwaway stage package on sys.path: <pkg>.eq uses <pkg>.dsp helpers; <pkg>/__init__ is a registry."""
    name = f"mbpkg_{uuid.uuid4().hex[:8]}"
    root = tmp_path / name
    files = {
        "__init__.py": "from . import eq, comp  # the registry imports every stage\n",
        "eq.py": '''
            """EQ stage."""
            import numpy as np
            from .dsp import lowpass
            from . import util

            def render(x, gain_db):
                """Apply gain then filter."""
                import %(name)s.dsp.gain as g
                return lowpass(g.apply(x, gain_db)) + util.OFFSET
        ''',
        "comp.py": "def render(x):\n    return x\n",
        "util.py": "OFFSET = 0.0\n",
        "dsp/__init__.py": "from .filters import lowpass\n",
        "dsp/filters.py": "def lowpass(x):\n    return x * 0.5\n",
        "dsp/gain.py": "def apply(x, gain_db):\n    return x * 10 ** (gain_db / 20)\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text % {"name": name} if "%(name)s" in text else text))
    monkeypatch.syspath_prepend(str(tmp_path))

    def version(module: str = "eq", declared: str = "1") -> str:
        clear_code_version_memo()
        importlib.invalidate_caches()
        return code_version(f"{name}.{module}", declared, package_prefix=name)

    def edit(rel: str, old: str, new: str) -> None:
        path = root / rel
        text = path.read_text()
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new))

    yield name, root, version, edit
    clear_code_version_memo()
    for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[mod]


def test_code_version_ignores_comments_formatting_docstrings(stage_pkg):
    name, _root, version, edit = stage_pkg
    base = version()
    edit("eq.py", '"""Apply gain then filter."""', '"""Now documented differently."""')
    edit("eq.py", '"""EQ stage."""', "# a comment\n'''Module docs, other quotes.'''")
    edit("eq.py", "return lowpass(g.apply(x, gain_db)) + util.OFFSET",
         "return lowpass(  g.apply( x ,gain_db) )+util.OFFSET   # same thing")
    edit("dsp/filters.py", "x * 0.5", "(x * 0.5)  # parenthesised")
    edit("dsp/filters.py", "def lowpass", "\n\n\ndef lowpass")  # moved lines
    assert version() == base


def test_code_version_changes_with_module_code(stage_pkg):
    _name, _root, version, edit = stage_pkg
    base = version()
    edit("eq.py", "+ util.OFFSET", "- util.OFFSET")
    assert version() != base


def test_code_version_changes_with_declared_version(stage_pkg):
    _name, _root, version, _edit = stage_pkg
    assert version(declared="1") != version(declared="2")


@pytest.mark.parametrize(
    "rel,old,new",
    [
        ("dsp/filters.py", "0.5", "0.25"),  # re-exported through dsp/__init__
        ("dsp/gain.py", "/ 20", "/ 10"),  # absolute import inside a function
        ("util.py", "0.0", "1e-9"),  # `from . import util`
        ("dsp/__init__.py", "from .filters import lowpass", "from .filters import lowpass\nK = 2"),
    ],
)
def test_code_version_changes_with_imported_helper(stage_pkg, rel, old, new):
    _name, _root, version, edit = stage_pkg
    base = version()
    edit(rel, old, new)
    assert version() != base


def test_code_version_ignores_unrelated_stage_and_registry(stage_pkg):
    _name, _root, version, edit = stage_pkg
    base = version()
    edit("comp.py", "return x", "return -x")
    edit("__init__.py", "from . import eq, comp", "from . import eq, comp\nREGISTRY = {}")
    assert version() == base
    assert version("comp") != base


def test_code_version_imports_nothing_and_is_memoised(stage_pkg):
    name, _root, version, edit = stage_pkg
    first = version()
    assert not [m for m in sys.modules if m == name or m.startswith(name + ".")]
    edit("eq.py", "+ util.OFFSET", "- util.OFFSET")
    # memoised per process: without clearing, the edit is not seen
    assert code_version(f"{name}.eq", "1", package_prefix=name) == first


def test_code_version_unknown_module(stage_pkg):
    name, _root, _version, _edit = stage_pkg
    with pytest.raises(ModuleNotFoundError, match="nope"):
        code_version(f"{name}.nope", "1", package_prefix=name)


def test_code_version_of_a_real_module():
    clear_code_version_memo()
    version = code_version("mixbuild.pipeline.cache", "1", package_prefix="mixbuild.pipeline")
    assert version == code_version("mixbuild.pipeline.cache", "1", package_prefix="mixbuild.pipeline")
    assert len(version) == 32


def test_a_real_stage_kinds_version_covers_the_stage_modules_it_imports(monkeypatch):
    """The default package prefix is the installed name (`mixbuild.stages`): a stage's version reads the DSP
    helpers it imports, transitively, and nothing outside the stages (so a kernel edit re-renders its nodes)."""
    import mixbuild.pipeline.codeversion as codeversion
    from mixbuild.stages.registry import KINDS, load_kinds

    load_kinds()
    clear_code_version_memo()
    read: list[str] = []
    fingerprint = codeversion._module_fingerprint
    monkeypatch.setattr(codeversion, "_module_fingerprint", lambda name: read.append(name) or fingerprint(name))
    codeversion.kind_code_version(KINDS["master"])
    assert {"mixbuild.stages.master", "mixbuild.stages.mixing", "mixbuild.stages.params",
            "mixbuild.stages.dsp.pages", "mixbuild.stages.album_tonal"} <= set(read)
    assert all(name.startswith("mixbuild.stages.") for name in read)


def test_code_versions_are_memoised_once_per_install_not_per_cache(tmp_path, monkeypatch):
    """A cold build into a new cache reads the stage kinds' versions beside the stages instead of parsing 39
    modules again; where the stages' folder is read-only they are kept in the cache's memo instead. A kind
    registered outside the stages (a test's) is never memoised: the memo's signature does not cover its code."""
    import json

    import mixbuild.pipeline.codeversion as codeversion
    from mixbuild.stages.registry import load_kinds

    kinds = load_kinds()
    staged = {name for name, kind in kinds.items() if kind.module.startswith("mixbuild.stages.")}
    read: list[str] = []
    fingerprint = codeversion._module_fingerprint

    def counted(name: str):
        read.append(name)
        return fingerprint(name)

    counted.cache_clear = fingerprint.cache_clear  # type: ignore[attr-defined]
    monkeypatch.setattr(codeversion, "_module_fingerprint", counted)
    monkeypatch.setattr(codeversion, "FRESH_S", -1.0)  # a fresh checkout's files are memoised too
    beside = tmp_path / "stages" / "__pycache__" / codeversion.MEMO_NAME
    (tmp_path / "stages").mkdir()
    monkeypatch.setattr(codeversion, "memo_paths", lambda memo_dir: [beside, memo_dir / codeversion.MEMO_NAME])

    clear_code_version_memo()
    codeversion.load_code_versions(kinds, tmp_path / "first-cache")
    assert read and set(json.loads(beside.read_text())["versions"]) == staged
    clear_code_version_memo()
    read.clear()
    codeversion.load_code_versions(kinds, tmp_path / "new-cache")
    assert read == [] and not (tmp_path / "new-cache").exists()

    (tmp_path / "not-a-folder").write_text("")  # no __pycache__ can be made in it, even by root
    beside = tmp_path / "not-a-folder" / "__pycache__" / codeversion.MEMO_NAME
    (tmp_path / "cache" / "memo").mkdir(parents=True)
    clear_code_version_memo()
    codeversion.load_code_versions(kinds, tmp_path / "cache" / "memo")
    assert read and not beside.exists() and (tmp_path / "cache" / "memo" / codeversion.MEMO_NAME).is_file()
    clear_code_version_memo()
    read.clear()
    codeversion.load_code_versions(kinds, tmp_path / "cache" / "memo")
    assert read == []
