"""The cache size limit enforced after every build (MIXBUILD_CACHE_MAX_GB), and `cache stats` in human units."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mixbuild.pipeline import api
from mixbuild.pipeline.cache import LIMIT_ENV_VAR, Cache, CacheLimitError, clear_verified_memo, max_bytes
from mixbuild.pipeline.cache.limit import EVICT_TO_FRACTION
from mixbuild.pipeline.cache.layout import disk_bytes, scan_objects
from mixbuild.pipeline.cli import app
from mixbuild.pipeline.cli.cache import human_bytes
from mixbuild.pipeline.digest import digest_file
from mixbuild.pipeline.specs import SpecError
from testkit.project import Project, second_album

HOUR_S = 3600


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


# ---------------------------------------------------------------- the setting


@pytest.mark.parametrize(("value", "expected"), [
    (None, 25_000_000_000), ("", 25_000_000_000), (" 2.5 ", 2_500_000_000), ("0", 0), ("1e-9", 1),
    ("off", None), ("OFF", None), ("none", None), ("unlimited", None), ("-1", None), ("-0.5", None),
])
def test_max_bytes_reads_the_environment(value, expected):
    environ = {} if value is None else {LIMIT_ENV_VAR: value}
    assert max_bytes(environ) == expected


@pytest.mark.parametrize("value", ["abc", "20GB", "nan", "inf", "-inf", "1,5"])
def test_a_bad_limit_is_one_line_naming_the_variable(value):
    with pytest.raises(CacheLimitError) as err:
        max_bytes({LIMIT_ENV_VAR: value})
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{LIMIT_ENV_VAR}: a size in GB")
    assert "off" in message and f"(got {value!r})" in message


def test_a_bad_limit_fails_the_build_before_anything_renders(project, monkeypatch):
    monkeypatch.setenv(LIMIT_ENV_VAR, "abc")
    with pytest.raises(SpecError) as err:
        project.build()
    assert str(err.value) == (f"environment: {LIMIT_ENV_VAR}: a size in GB (e.g. 20 or 2.5; 0 keeps only what the "
                              "last build used), or off or a negative number for no limit (got 'abc')")
    assert not (project.root / "cache" / "objects").exists()
    result = _run("build", str(project.path), "--cache", str(project.root / "cache"),
                  "--out", str(project.root / "out"))
    assert result.exit_code == 2 and result.stderr.strip().splitlines() == [str(err.value)]
    assert _run("cache", "stats", "--cache", str(project.root / "cache")).exit_code == 2


# ---------------------------------------------------------------- enforced after a build


def _held(cache: Cache, report: api.Report) -> set[str]:
    """Digests of every object a build holds: its nodes' outputs and the blobs their JSON references."""
    held = {n.digest for n in report.nodes}
    for node in report.nodes:
        if node.output == "json":
            held |= cache.blob_refs(node.digest)
    return held


def _objects(cache: Cache) -> dict[str, int]:
    """Digest -> size on disk of every object in the cache (allocated blocks, as the limit counts them)."""
    return {obj.digest: disk_bytes(obj.stat) for obj in scan_objects(cache.layout)}


def _age_everything(cache: Cache, seconds: float) -> None:
    """Make every object look last used `seconds` ago (an earlier session's build)."""
    t = time.time_ns() - int(seconds * 1e9)
    for obj in scan_objects(cache.layout):
        os.utime(obj.path, ns=(t, t))


def _delivered(report: api.Report) -> dict[str, str]:
    return {o["path"]: o["digest"] for o in report.outputs}


def _check_delivery(report: api.Report) -> None:
    for path, digest in _delivered(report).items():
        assert digest_file(Path(path)) == digest, path


def _cached_ids(cache: Cache, report: api.Report) -> set[str]:
    """The nodes of `report` whose objects are still in the cache."""
    return {n.id for n in report.nodes if cache.object_path(n.digest, n.output).is_file()}


@pytest.fixture()
def two_albums(project: Project, monkeypatch):
    """Album A (the project) and album B (its stems, another order and master) built once, no limit."""
    monkeypatch.setenv(LIMIT_ENV_VAR, "off")
    cache = Cache(project.root / "cache")
    a = project.build()
    b_spec = second_album(project)
    b = api.build(b_spec, cache_dir=cache.root, out_dir=project.root / "out-b", jobs=1)
    assert b.rendered and len(b.rendered) < len(b.nodes)  # B shares A's stems
    return cache, a, b_spec, b


def test_a_small_limit_evicts_lru_down_to_80_percent_of_it_and_a_rebuild_renders_only_what_went(project, two_albums, monkeypatch):
    cache, a, b_spec, b = two_albums
    sizes = _objects(cache)
    held = _held(cache, b)
    a_only = {d: s for d, s in sizes.items() if d not in held}
    assert len(a_only) >= 4
    _age_everything(cache, HOUR_S)  # yesterday's session
    # album a's objects, each node's last used a minute before the next; a blob as its last referrer was
    # (they are written, and touched, together)
    refs = {obj.digest: cache.blob_refs(obj.digest) for obj in scan_objects(cache.layout) if obj.kind == "json"}
    units = sorted(d for d in a_only if not any(d in blobs for blobs in refs.values()))
    paths = {obj.digest: obj.path for obj in scan_objects(cache.layout)}
    age_min = {}
    for minutes, digest in enumerate(reversed(units), start=1):
        age_min[digest] = minutes
        for blob in refs.get(digest, set()) & set(a_only):
            age_min[blob] = min(age_min.get(blob, minutes), minutes)
    for digest, minutes in age_min.items():
        t = time.time_ns() - int((HOUR_S + 60 * minutes) * 1e9)
        os.utime(paths[digest], ns=(t, t))
    # the fewest oldest units (with their blobs) whose eviction brings the cache to 80 % of a limit it exceeds
    for count in range(1, len(units)):
        oldest = {d for d, minutes in age_min.items() if minutes > len(units) - count}
        fits = sum(sizes[d] for d in held) + sum(size for d, size in a_only.items() if d not in oldest)
        # over it, the cache is evicted to 80 % of it: `fits` (2 bytes over, as the variable's decimal GB parse
        # may round a byte down)
        limit = math.ceil(fits / EVICT_TO_FRACTION) + 2
        if sum(sizes.values()) > limit:
            break
    assert sum(sizes.values()) > limit and oldest
    monkeypatch.setenv(LIMIT_ENV_VAR, f"{limit / 1e9:.9f}")
    again = api.build(b_spec, cache_dir=cache.root, out_dir=project.root / "out-b", jobs=1)
    assert not again.rendered and _held(cache, again) == held
    after = _objects(cache)
    assert sum(after.values()) <= limit * EVICT_TO_FRACTION
    assert held <= set(after)  # everything the build holds stays
    # least recently used first, a node's blobs with it, and it stops once it fits 80 % of the limit
    assert set(a_only) - set(after) == oldest
    _check_delivery(again)
    clear_verified_memo()
    assert cache.verify() == [] and _run("cache", "verify", "--cache", str(cache.root)).exit_code == 0

    still_cached = _cached_ids(cache, a)
    assert still_cached != {n.id for n in a.nodes}
    monkeypatch.setenv(LIMIT_ENV_VAR, "off")
    rebuilt = project.build()
    assert rebuilt.rendered == {n.id for n in a.nodes} - still_cached  # exactly what was evicted
    assert _delivered(rebuilt) == _delivered(a)  # the same bytes as before the eviction
    _check_delivery(rebuilt)


def test_a_one_byte_limit_keeps_everything_the_build_holds_and_nothing_else(project, two_albums, monkeypatch):
    cache, a, b_spec, _b = two_albums
    _age_everything(cache, HOUR_S)
    project.spec["songs"][0]["stems"]["kick"]["gain_db"] = -6.0  # A changes: some of it renders anew
    project.save()
    monkeypatch.setenv(LIMIT_ENV_VAR, "1e-9")  # 1 byte
    tweaked = project.build()
    assert tweaked.rendered and len(tweaked.rendered) < len(tweaked.nodes)
    held = _held(cache, tweaked)
    assert set(_objects(cache)) == held  # B's objects and A's old renders go; all A uses now stays
    _check_delivery(tweaked)
    clear_verified_memo()
    assert cache.verify() == []
    assert _run("cache", "verify", "--cache", str(cache.root)).exit_code == 0
    assert not project.build().rendered  # still all cached, and still only that
    assert set(_objects(cache)) == held
    rebuilt_b = api.build(b_spec, cache_dir=cache.root, out_dir=project.root / "out-b", jobs=1)
    shared = {n.id for n in rebuilt_b.nodes if n.digest in held}
    assert shared and rebuilt_b.rendered == {n.id for n in rebuilt_b.nodes} - shared


def test_the_build_keeps_its_objects_by_digest_whatever_their_mtime(project, two_albums, monkeypatch):
    """An object of this build whose mtime says otherwise (written by a host whose clock lags) stays."""
    cache, a, _b_spec, _b = two_albums
    enforce = Cache.enforce_limit

    def enforce_after_clock_skew(self, limit_bytes, keep=()):
        _age_everything(self, HOUR_S)  # the lease no longer protects anything by mtime
        return enforce(self, limit_bytes, keep)

    monkeypatch.setattr(Cache, "enforce_limit", enforce_after_clock_skew)
    monkeypatch.setenv(LIMIT_ENV_VAR, "0")
    again = project.build()
    assert not again.rendered
    assert set(_objects(cache)) == _held(cache, a)
    clear_verified_memo()
    assert cache.verify() == []


def test_the_default_limit_leaves_a_small_cache_alone(project, monkeypatch):
    monkeypatch.delenv(LIMIT_ENV_VAR, raising=False)
    first = project.build()
    cache = Cache(project.root / "cache")
    before = _objects(cache)
    project.spec["songs"][0]["stems"]["kick"]["gain_db"] = -6.0
    project.save()
    project.build()
    assert set(before) < set(_objects(cache)) and _cached_ids(cache, first) == {n.id for n in first.nodes}


# ---------------------------------------------------------------- cache stats


@pytest.mark.parametrize(("size", "text"), [
    (0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (340_000_000, "340 MB"), (1_234_567_890, "1.2 GB"),
    (9_960_000_000, "10 GB"), (20_000_000_000, "20 GB"), (999_600_000, "1.0 GB"), (3_500_000_000_000_000, "3500 TB"),
])
def test_human_bytes(size, text):
    assert human_bytes(size) == text


def test_stats_in_human_units_with_the_limit_and_how_full(project, monkeypatch):
    monkeypatch.setenv(LIMIT_ENV_VAR, "off")
    project.build()
    cache = str(project.root / "cache")
    figures = json.loads(_run("cache", "stats", "--cache", cache, "--json").stdout)
    assert figures["limit_bytes"] is None and figures["used_fraction"] is None
    used = figures["object_bytes"]
    assert isinstance(used, int) and used > 0
    text = _run("cache", "stats", "--cache", cache).stdout
    assert f"size: {human_bytes(used)} in {figures['objects']} objects" in text
    assert f"limit: none ({LIMIT_ENV_VAR}=off)" in text

    monkeypatch.setenv(LIMIT_ENV_VAR, f"{2 * used / 1e9:.9f}")
    figures = json.loads(_run("cache", "stats", "--cache", cache, "--json").stdout)
    assert figures["limit_bytes"] == pytest.approx(2 * used, abs=1) and figures["used_fraction"] == pytest.approx(0.5)
    assert "), 50% full" in _run("cache", "stats", "--cache", cache).stdout

    monkeypatch.setenv(LIMIT_ENV_VAR, f"{used / 2 / 1e9:.9f}")
    text = _run("cache", "stats", "--cache", cache).stdout
    assert f"200% full: the next build evicts down to 80% of it ({human_bytes(int(used * 0.4))})" in text

    monkeypatch.delenv(LIMIT_ENV_VAR)
    text = _run("cache", "stats", "--cache", cache).stdout
    assert f"limit: 25 GB ({LIMIT_ENV_VAR} unset: the default), 0% full" in text
