"""Mixing primitives' speed on a 5-minute 48 kHz stereo float32 signal, pedalboard interleaved in one process.

Jobs: EQ (4 bands), compressor, reverb (2 s IR: building it + convolving), SRC 48 -> 44.1 kHz, each
beside pedalboard's equivalent (filter chain, Compressor, Convolution of the same IR, StreamResampler).
Median of 5 runs; "x RT" is the signal's duration divided by the time; "ours/pb" is the ratio of the
medians, and for the compressor also the median (and range) of the runs' own ratios, each run of ours
beside one of pedalboard's. The process is pinned to one core (as a joblib worker runs). Targets: EQ and
compressor >= 200x RT, the compressor at least as fast as pedalboard's (ours/pb <= 1.0, issue 14).

    .venv/bin/python benchmarks/bench_mixing.py [--runs 5] [--seconds 300] [--all-cores]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's pipeline, stages and testkit

from mixbuild.stages.dsp.compressor import compress  # noqa: E402
from mixbuild.stages.dsp.eq import apply_sos, band_sos  # noqa: E402
from mixbuild.stages.dsp.resample import resample  # noqa: E402
from mixbuild.stages.dsp.reverb import apply_reverb, reverb_ir  # noqa: E402

from machine import cpu_model

RATE = 48000
TARGET_HZ = 44100
# (kind, freq_hz, gain_db, q): a typical channel-strip EQ.
EQ_BANDS = [("highpass", 40.0, 0.0, 0.7071067811865476), ("low_shelf", 120.0, 2.0, 0.7071067811865476),
            ("peak", 2500.0, -3.0, 1.4), ("high_shelf", 9000.0, 1.5, 0.7071067811865476)]
COMPRESSOR = dict(threshold_db=-20.0, ratio=4.0, attack_ms=10.0, release_ms=100.0)
REVERB_S = 2.0


def music_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Float32 stereo noise with 250 ms notes at levels from -30 to 0 dBFS: the compressor has work to do."""
    rng = np.random.default_rng(seed)
    frames = int(seconds * RATE)
    note = int(0.25 * RATE)
    levels = np.repeat(10 ** (rng.uniform(-30.0, 0.0, frames // note + 1) / 20), note)[:frames]
    out = rng.standard_normal((frames, 2), dtype=np.float32)
    out *= (0.25 * levels).astype(np.float32)[:, None]
    return out


def jobs(pedalboard):
    """(name, ours(x), peer name, peer(x_channels_first)) for every job."""
    sos = np.concatenate([band_sos(kind, f, RATE, gain_db=g, q=q) for kind, f, g, q in EQ_BANDS])
    board = pedalboard.Pedalboard([
        pedalboard.HighpassFilter(cutoff_frequency_hz=40.0),
        pedalboard.LowShelfFilter(cutoff_frequency_hz=120.0, gain_db=2.0, q=0.7071067811865476),
        pedalboard.PeakFilter(cutoff_frequency_hz=2500.0, gain_db=-3.0, q=1.4),
        pedalboard.HighShelfFilter(cutoff_frequency_hz=9000.0, gain_db=1.5, q=0.7071067811865476),
    ])
    pb_compressor = pedalboard.Compressor(**COMPRESSOR)
    ir = reverb_ir(RATE, REVERB_S, seed=1)
    pb_convolution = pedalboard.Convolution(np.ascontiguousarray(ir.T, dtype=np.float32), sample_rate=RATE)

    def pb_resample(xt):
        resampler = pedalboard.io.StreamResampler(RATE, TARGET_HZ, xt.shape[0])
        return np.concatenate([resampler.process(xt), resampler.process(None)], axis=1)

    return [
        ("EQ, 4 biquads", lambda x: apply_sos(x, sos), "pb filter chain", lambda xt: board(xt, RATE)),
        ("compressor", lambda x: compress(x, RATE, **COMPRESSOR), "pb Compressor", lambda xt: pb_compressor(xt, RATE)),
        ("reverb, 2 s IR", lambda x: apply_reverb(x, reverb_ir(RATE, REVERB_S, seed=1)), "pb Convolution",
         lambda xt: pb_convolution(xt, RATE)),
        ("SRC 48 -> 44.1 kHz", lambda x: resample(x, RATE, TARGET_HZ), "pb StreamResampler", pb_resample),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--all-cores", action="store_true", help="do not pin the process to one core")
    args = parser.parse_args()

    import pedalboard
    import pedalboard.io  # noqa: F401

    usable = sorted(os.sched_getaffinity(0))
    if not args.all_cores:
        os.sched_setaffinity(0, {usable[0]})
    print(f"nproc: {os.cpu_count()} (usable: {len(usable)}, benchmark pinned to "
          f"{'all' if args.all_cores else 'core ' + str(usable[0])}), CPU: {cpu_model()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {version('scipy')}, "
          f"numba {version('numba')}, soxr {version('soxr')}, pedalboard {version('pedalboard')}")

    x = music_like(args.seconds)
    xt = np.ascontiguousarray(x.T)  # pedalboard's (channels, frames), prepared outside the timing
    print(f"signal: {args.seconds:g} s, {RATE} Hz, stereo float32 ({x.nbytes / 1e6:.0f} MB); "
          f"median of {args.runs} runs, ours and pedalboard interleaved\n")

    table = jobs(pedalboard)
    for _, ours, _, peer in table:  # warm up: numba compile/cache load, FFT plans, pedalboard set-up
        ours(x[: RATE])
        peer(xt[:, : RATE])

    header = f"{'job':<20} {'ours s':>8} {'ours xRT':>9}   {'peer':<20} {'peer s':>8} {'peer xRT':>9} {'ours/pb':>8}"
    print(header)
    print("-" * len(header))
    paired: dict[str, list[float]] = {}
    for name, ours, peer_name, peer in table:
        times_ours, times_peer = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            result = ours(x)
            times_ours.append(time.perf_counter() - start)
            del result
            start = time.perf_counter()
            result = peer(xt)
            times_peer.append(time.perf_counter() - start)
            del result
        mine, theirs = statistics.median(times_ours), statistics.median(times_peer)
        print(f"{name:<20} {mine:8.3f} {args.seconds / mine:8.0f}x   {peer_name:<20} {theirs:8.3f} "
              f"{args.seconds / theirs:8.0f}x {mine / theirs:8.2f}")
        paired[name] = [a / b for a, b in zip(times_ours, times_peer)]
    ratios = paired["compressor"]
    print(f"\ncompressor ours/pb, run by run: median {statistics.median(ratios):.2f} "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}, {args.runs} runs)")
    print("targets: EQ and compressor >= 200x RT on one core; compressor ours/pb <= 1.0")


if __name__ == "__main__":
    main()
