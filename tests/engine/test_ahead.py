"""computed_ahead: a node's stream on two threads gives the same blocks, in order, and stops with the kernel."""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time

import numpy as np
import pytest

from mixbuild.stages.ahead import CORES, computed_ahead, side_by_side
from mixbuild.stages.mixing import Chain
from mixbuild.stages.params import Compressor

RENDERING: contextvars.ContextVar[str] = contextvars.ContextVar("RENDERING", default="outside")


@pytest.fixture
def two_cores():
    """The budget of a -j 2 build with one render task running: one idle core for a helper."""
    with CORES.cores(2), CORES.task():
        yield
    assert not CORES.claim()  # none given back twice (the budget is 0 again outside a build)
    with CORES.cores(1):
        assert CORES.claim()  # and none kept: the one core is idle
        CORES.release()


def made_on(threads: list[str], count: int):
    for i in range(count):
        threads.append(threading.current_thread().name)
        yield i


def test_blocks_arrive_in_order_each_made_on_the_helper_while_the_caller_works(two_cores):
    threads: list[str] = []
    for block in computed_ahead(made_on(threads, 4)):
        assert block == len(threads) - 1 or block == len(threads) - 2  # at most one block ahead
        if block < 3:  # the caller's half: block + 1 is made meanwhile (without a helper, never: this times out)
            deadline = time.monotonic() + 10.0
            while len(threads) < block + 2:
                assert time.monotonic() < deadline, f"block {block + 1} was not made while block {block} was worked on"
                time.sleep(0.001)
    assert len(threads) == 4
    assert all(name.startswith("mixbuild-ahead") for name in threads)


def test_the_helper_sees_the_render_context(two_cores):
    token = RENDERING.set("song-01/master")
    try:
        seen = list(computed_ahead(RENDERING.get() for _ in range(2)))
    finally:
        RENDERING.reset(token)
    assert seen == ["song-01/master", "song-01/master"]


@pytest.mark.parametrize("helper", [True, False])
def test_an_error_making_a_block_is_raised_where_that_block_is_asked_for(helper):
    def blocks():
        yield 0
        raise ValueError("undecodable")

    got = []
    with CORES.cores(2 if helper else 0), CORES.task(), pytest.raises(ValueError, match="undecodable"):
        for block in computed_ahead(blocks()):
            got.append(block)
    assert got == [0]


def test_without_an_idle_core_every_block_is_made_in_the_callers_thread():
    # outside a build (no budget), and in a build whose tasks hold every core
    for cores, tasks in ((0, 0), (2, 2)):
        threads: list[str] = []
        with CORES.cores(cores), CORES.task(), CORES.task() if tasks == 2 else contextlib.nullcontext():
            assert list(computed_ahead(made_on(threads, 3))) == [0, 1, 2]
        assert set(threads) == {threading.current_thread().name}


def test_leaving_early_stops_the_source_and_leaves_no_block_being_made(two_cores):
    made, closed = [], []

    def blocks():
        try:
            for i in range(100):
                time.sleep(0.01)
                made.append(i)
                yield i
        finally:
            closed.append(threading.current_thread().name)

    stream = computed_ahead(blocks())
    assert next(stream) == 0
    stream.close()
    count = len(made)
    time.sleep(0.05)
    assert closed and len(made) == count <= 2  # nothing made after the close; at most the block ahead


def test_a_chain_split_across_two_threads_is_bit_identical_to_one_thread(two_cores):
    # The EQ (filtered) on the helper and the compressor (squeezed) on the caller, block by block, against
    # both halves in one thread: the same samples, bit for bit.
    rate = 48000
    audio = np.random.default_rng(3).standard_normal((rate * 3, 2)) * 0.3
    sos = np.array([[0.9, -1.8, 0.9, 1.0, -1.79, 0.81]])
    settings = Compressor(threshold_db=-20.0, ratio=4.0, attack_ms=5.0, release_ms=80.0)
    block_frames = 1 << 15

    def run(split: bool) -> np.ndarray:
        chain = Chain([sos], settings, 2, rate)
        filtered = (chain.filtered(audio[lo:lo + block_frames]) for lo in range(0, audio.shape[0], block_frames))
        return np.concatenate([chain.squeezed(b) for b in (computed_ahead(filtered) if split else filtered)])

    assert np.array_equal(run(True), run(False))


def test_a_build_whose_kernels_take_idle_cores_delivers_what_one_core_does(project, tmp_path, monkeypatch):
    # -j 4 on threads in the build process (the threading backend): the tasks leave cores idle at the DAG's
    # narrow points, where stems, buses, mixdowns and masters make their blocks on helpers; the digests of every
    # node and the delivered bytes equal a -j 1 build's, which never starts a helper.
    one = project.build(jobs=1)
    (project.root / "cache").rename(tmp_path / "cache-j1")
    claims = []
    claim = CORES.claim
    monkeypatch.setattr(CORES, "claim", lambda: claims.append(claim()) or claims[-1])
    four = project.build(jobs=4, out="build4", backend="threading")
    assert any(claims), "no kernel took an idle core"
    assert {n.id: n.digest for n in four.nodes} == {n.id: n.digest for n in one.nodes}
    files = lambda d: {p.name: p.read_bytes() for p in (project.root / d).rglob("*") if p.is_file()  # noqa: E731
                       and p.name != "build-report.json"}
    assert files("build") == files("build4")


def test_side_by_side_runs_the_first_call_on_a_helper_while_the_caller_runs_the_second(two_cores):
    first_started, second_done = threading.Event(), threading.Event()

    def first():
        first_started.set()
        assert second_done.wait(10.0), "the caller did not run the second call meanwhile"
        return threading.current_thread().name

    def second():
        assert first_started.wait(10.0), "the first call did not start on a helper"
        second_done.set()
        return threading.current_thread().name

    helper, caller = side_by_side(first, second)
    assert helper.startswith("mixbuild-side") and caller == threading.current_thread().name


def test_without_an_idle_core_side_by_side_runs_both_here_in_order():
    order: list[tuple[str, str]] = []
    with CORES.cores(2), CORES.task(), CORES.task():  # both cores render tasks
        got = side_by_side(lambda: order.append(("first", threading.current_thread().name)) or 1,
                           lambda: order.append(("second", threading.current_thread().name)) or 2)
    here = threading.current_thread().name
    assert got == (1, 2) and order == [("first", here), ("second", here)]


@pytest.mark.parametrize("failing", ["first", "second"])
def test_side_by_side_raises_either_calls_error_once_both_are_done(two_cores, failing):
    finished = []

    def call(name):
        def run():
            time.sleep(0.05)
            finished.append(name)
            if name == failing:
                raise ValueError(f"{name} failed")
            return name
        return run

    with pytest.raises(ValueError, match=f"{failing} failed"):
        side_by_side(call("first"), call("second"))
    assert sorted(finished) == ["first", "second"]  # neither is still running when the error arrives


def test_a_caller_waiting_for_its_helper_lends_its_core(two_cores):
    # -j 2, one task: the helper making a block holds the idle core; while the task's thread waits for that
    # block, its own core is free, so the helper's kernel may claim it (a reverb splitting its channels).
    claimed_while_making = []

    def blocks():
        for i in range(3):
            if threading.current_thread().name.startswith("mixbuild-ahead"):
                deadline = time.monotonic() + 10.0  # the caller waits for this block: its core comes free
                while not (got := CORES.claim()) and time.monotonic() < deadline:
                    time.sleep(0.001)
                claimed_while_making.append(got)
                if got:
                    CORES.release()
            yield i

    assert list(computed_ahead(blocks())) == [0, 1, 2]
    assert claimed_while_making and all(claimed_while_making)
