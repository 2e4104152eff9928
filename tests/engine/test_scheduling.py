"""Node-level scheduling: with sleeping stand-in kernels on 16 workers, no worker idles while a ready node waits."""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import pytest

from mixbuild.pipeline.cache import Cache
from mixbuild.pipeline.dag import Node
from mixbuild.pipeline.executor import NodeResult, execute, node_costs
from mixbuild.pipeline.plan import last_render_seconds, seconds_or_none
from mixbuild.stages.params import SpecModel
from mixbuild.stages.registry import KINDS, stage

WORKERS = 16
SCALE_S = 0.02
"""Unit of the stand-in kernels' sleeps."""


class SleepParams(SpecModel):
    seconds: float
    salt: str


@dataclasses.dataclass(frozen=True)
class SleepInputs:
    upstream: list[np.ndarray]


@pytest.fixture()
def sleep_kind():
    @stage("test_sleep", "1")
    def render_sleep(inputs: SleepInputs, p: SleepParams) -> np.ndarray:
        time.sleep(p.seconds)
        return np.full((4, 2), float(sum(float(a[0, 0]) for a in inputs.upstream)) + 1.0)

    yield
    KINDS.pop("test_sleep", None)


def studio_shaped_dag() -> dict[str, Node]:
    """4 songs x 12 stems of uneven length -> 3 buses -> mixdown -> master, then 2 targets' finals and exports."""
    nodes: dict[str, Node] = {}

    def add(node_id: str, seconds: float, upstream: tuple[str, ...]) -> None:
        nodes[node_id] = Node(node_id, "test_sleep", SleepParams(seconds=seconds, salt=node_id),
                              {"upstream": upstream})

    for song in range(4):
        stems = [f"s{song}/stem/{i}" for i in range(12)]
        for i, stem_id in enumerate(stems):
            add(stem_id, SCALE_S * (1 + (i * 7 + song * 3) % 5), ())
        buses = [f"s{song}/bus/{b}" for b in range(3)]
        for b, bus_id in enumerate(buses):
            add(bus_id, 2 * SCALE_S, tuple(stems[b::3]))
        add(f"s{song}/mixdown", SCALE_S, tuple(buses))
        add(f"s{song}/master", 2 * SCALE_S, (f"s{song}/mixdown",))
    for target in ("streaming", "cd"):
        for song in range(4):
            add(f"s{song}/final/{target}", 2 * SCALE_S, (f"s{song}/master",))
            add(f"s{song}/export/{target}", SCALE_S, (f"s{song}/final/{target}",))
        add(f"album/export/{target}", 3 * SCALE_S, tuple(f"s{song}/export/{target}" for song in range(4)))
    return nodes


def test_no_worker_idles_while_a_ready_node_waits(tmp_path, sleep_kind):
    """Replays the scheduler's own events (starts and completions, in the order it made them), so the check
    does not depend on this shared machine's timing: whenever the scheduler goes back to waiting (the
    completion that follows its starts), either all 16 workers are busy or no ready node waits."""
    nodes = studio_shaped_dag()
    events: list[tuple[str, str]] = []

    def on_done(result: NodeResult) -> None:
        events.append(("done", result.id))

    execute(nodes, Cache(tmp_path / "cache", fsync=False), jobs=WORKERS, parallel_backend="threading",
            on_start=lambda node_id: events.append(("start", node_id)), on_done=on_done)
    assert sorted(n for e, n in events if e == "start") == sorted(nodes) == sorted(n for e, n in events if e == "done")

    started: set[str] = set()
    finished: set[str] = set()
    checks = idle = peak = 0
    for i, (event, node_id) in enumerate(events):
        if event == "done" and (i == 0 or events[i - 1][0] == "start"):  # the scheduler waits here
            waiting = [n for n in nodes if n not in started and all(u in finished for u in nodes[n].upstream())]
            checks += 1
            if waiting and len(started - finished) < WORKERS:
                idle += 1
        (started if event == "start" else finished).add(node_id)
        peak = max(peak, len(started - finished))
    assert checks > 10 and idle == 0 and peak == WORKERS


def test_first_output_first_then_longest_remaining_path(tmp_path, sleep_kind):
    """One worker: nodes feeding the first output (a target's album export) start before those feeding only a
    later one, so that it completes (and delivers) early; among them, the one heading the longer chain first."""
    def node(node_id, *upstream):
        return Node(node_id, "test_sleep", SleepParams(seconds=0.0, salt=node_id), {"upstream": upstream})

    nodes = {n.id: n for n in [node("a/long"), node("a/short"), node("b/stem"), node("a/bus", "a/long"),
                               node("a/out", "a/bus", "a/short"), node("b/out", "b/stem")]}
    order: list[str] = []
    execute(nodes, Cache(tmp_path / "cache", fsync=False), jobs=1, on_start=order.append)
    # longest path alone would start b/stem (a path of 2, like a/short's) before a/bus
    assert order == ["a/long", "a/short", "a/bus", "a/out", "b/stem", "b/out"]


def test_longest_path_in_the_seconds_the_last_build_measured(tmp_path, sleep_kind):
    """One worker, two buses ready at once: by node count their paths tie and topological order starts the quick
    one; with the last build's seconds (a reverb return takes longest) the slow one starts first, so that the
    quick one runs beside it where a second core is free, instead of the slow one starting last."""
    def node(node_id, *upstream):
        return Node(node_id, "test_sleep", SleepParams(seconds=0.0, salt=node_id), {"upstream": upstream})

    nodes = {n.id: n for n in [node("a/stem"), node("a/bus/quick", "a/stem"), node("a/bus/slow", "a/stem"),
                               node("a/mixdown", "a/bus/quick", "a/bus/slow")]}
    by_count: list[str] = []
    execute(nodes, Cache(tmp_path / "one", fsync=False), jobs=1, on_start=by_count.append)
    assert by_count == ["a/stem", "a/bus/quick", "a/bus/slow", "a/mixdown"]
    by_seconds: list[str] = []
    execute(nodes, Cache(tmp_path / "two", fsync=False), jobs=1, on_start=by_seconds.append,
            estimates_s=lambda: {"a/stem": 0.5, "a/bus/quick": 0.3, "a/bus/slow": 0.5, "a/mixdown": 0.2})
    assert by_seconds == ["a/stem", "a/bus/slow", "a/bus/quick", "a/mixdown"]


def test_a_node_the_last_build_did_not_measure_costs_its_kinds_mean():
    def node(node_id, kind):
        return Node(node_id, kind, SleepParams(seconds=0.0, salt=node_id), {"upstream": ()})

    nodes = {n.id: n for n in [node("s/stem/a", "stem"), node("s/stem/b", "stem"), node("s/stem/new", "stem"),
                               node("s/bus/new", "bus")]}
    nodes["s/bus/a"] = node("s/bus/a", "bus")
    nodes["s/master"] = node("s/master", "master")
    assert node_costs(nodes, {}) == dict.fromkeys(nodes, 1.0)  # a first build: the path counts nodes
    costs = node_costs(nodes, {"s/stem/a": 1.0, "s/stem/b": 2.0, "s/bus/a": 6.0, "gone/stem/x": 9.0})
    # a kind's mean where it was measured (stems 1.5, buses 6), else the mean of all that were (3)
    assert costs == {"s/stem/a": 1.0, "s/stem/b": 2.0, "s/stem/new": 1.5, "s/bus/new": 6.0, "s/bus/a": 6.0,
                     "s/master": 3.0}


def test_a_build_of_hits_reads_no_estimates(tmp_path, sleep_kind):
    def node(node_id, *upstream):
        return Node(node_id, "test_sleep", SleepParams(seconds=0.0, salt=node_id), {"upstream": upstream})

    nodes = {n.id: n for n in [node("a/stem"), node("a/bus", "a/stem")]}
    cache = Cache(tmp_path / "cache", fsync=False)
    asked: list[int] = []
    execute(nodes, cache, jobs=1, estimates_s=lambda: asked.append(1) or {})
    assert asked == [1]  # read once, when the first miss was queued
    execute(nodes, cache, jobs=1, estimates_s=lambda: pytest.fail("a build of hits read the estimates"))


def test_build_asks_its_own_out_folder_for_estimates_only_when_something_renders(project, monkeypatch):
    from mixbuild.pipeline import api

    asked: list[object] = []
    monkeypatch.setattr(api, "last_render_seconds", lambda out: asked.append(out) or {})
    project.build()
    assert asked == [project.root / "build"]
    project.build()  # nothing changed: no miss, nothing read
    assert asked == [project.root / "build"]


@pytest.mark.parametrize(("value", "seconds"), [
    (0.25, 0.25), (0, 0.0), (3, 3.0), (None, None), (True, None), ("1.0", None), (-0.5, None),
    (float("nan"), None), (float("inf"), None), (10 ** 400, None)])
def test_a_duration_read_back_is_a_finite_number_of_seconds(value, seconds):
    assert seconds_or_none(value) == seconds


def test_the_report_keeps_every_nodes_render_seconds_for_the_next_build(project):
    """A hit's render seconds are those its action record kept, so a build of hits still tells the next build
    what each node costs (`last_render_seconds` reads them back from the report)."""
    cold = project.build()
    measured = {n.id: n.seconds for n in cold.nodes}
    assert all(n.render_seconds == n.seconds for n in cold.nodes) and sum(measured.values()) > 0
    warm = project.build()
    assert {n.status for n in warm.nodes} == {"cached"} and all(n.seconds == 0.0 for n in warm.nodes)
    assert last_render_seconds(project.root / "build") == pytest.approx(measured, abs=1e-6)


def test_estimates_skip_what_a_report_does_not_hold_as_seconds(tmp_path):
    """A report from an older version (no render_seconds), a hit whose record kept none, or a damaged report
    gives no estimate for that node, never an error: the scheduler then counts nodes for it."""
    assert last_render_seconds(tmp_path) == {}  # no report
    (tmp_path / "build-report.json").write_text("{not json")
    assert last_render_seconds(tmp_path) == {}
    nodes = [{"id": "a", "render_seconds": 0.5}, {"id": "b", "render_seconds": None}, {"id": "c"},
             {"id": "d", "render_seconds": True}, {"id": "e", "render_seconds": -1.0}, {"id": "f", "render_seconds": "2"},
             {"id": 7, "render_seconds": 1.0}, "garbage", {"id": "g", "render_seconds": 0}]
    (tmp_path / "build-report.json").write_text(json.dumps({"nodes": nodes}))
    assert last_render_seconds(tmp_path) == {"a": 0.5, "g": 0.0}
