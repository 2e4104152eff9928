"""Metering speed on a 5-minute 48 kHz stereo float32 music-like file, peers interleaved in one process.

Jobs: our integrated loudness + true peak, our full EBU Mode report, pyloudnorm's integrated loudness,
ffmpeg `ebur128=peak=true` (whole process on a WAV), and our true-peak limiter (single-threaded: its
FFTs run one worker, its compiled loops are serial) driven +9.5 dB (overs everywhere) and +1.5 dB (overs on
the loudest peaks, a master's usual case); at +9.5 dB also as the `final` stage runs it, on its float32 work
copy in place with a new float32 envelope (the called form returns a new float64 array). Median of 5 runs; "x RT" is 300 s divided by the time. Targets:
faster than pyloudnorm, within 2x of ffmpeg, the limiter >= 300x RT on one core (issue 14).

    .venv/bin/python benchmarks/bench_metering.py [--runs 5] [--seconds 300]
"""

from __future__ import annotations

import argparse
from importlib.metadata import version
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's pipeline, stages and testkit

from mixbuild.stages.dsp.limiter import true_peak_limit  # noqa: E402
from mixbuild.stages.dsp.loudness import integrated_lufs, measure  # noqa: E402
from mixbuild.stages.dsp.truepeak import true_peak_dbtp  # noqa: E402

from machine import cpu_model
from testkit.music import notes_kick_hats  # noqa: E402

RATE = 48000
LIMITER = "mixbuild true_peak_limit -1 dBTP (+9.5 dB in)"
LIMITER_LIGHT = "mixbuild true_peak_limit -1 dBTP (+1.5 dB in)"
LIMITER_FINAL = "  the same, float32 in place, as final runs it"


def music_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Float32 stereo: harmonic notes on a grid, a kick, high-passed noise, sections at different levels."""
    rng = np.random.default_rng(seed)
    frames = int(seconds * RATE)
    out = notes_kick_hats(seconds, RATE, rng)
    sections = np.repeat(rng.uniform(0.3, 1.0, int(seconds // 20) + 1), 20 * RATE)[:frames]
    out *= sections[:, None]
    return (out / np.abs(out).max() * 0.9).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=300.0)
    args = parser.parse_args()

    import pyloudnorm

    ffmpeg = shutil.which("ffmpeg")
    print(f"nproc: {os.cpu_count()} (usable: {len(os.sched_getaffinity(0))}), CPU: {cpu_model()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, pyloudnorm {version('pyloudnorm')}, "
          f"ffmpeg: {ffmpeg or 'not found'}")
    audio = music_like(args.seconds)
    print(f"signal: {args.seconds:g} s, {RATE} Hz, stereo float32, {audio.nbytes / 1e6:.0f} MB")

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "music.wav"
        soundfile.write(str(wav), audio, RATE, subtype="FLOAT")
        meter = pyloudnorm.Meter(RATE, filter_class="DeMan")

        def ffmpeg_job() -> None:
            subprocess.run([ffmpeg, "-nostats", "-hide_banner", "-i", str(wav), "-filter_complex",
                            "ebur128=peak=true", "-f", "null", "-"], capture_output=True, check=True)

        hot = audio * np.float32(3.0)  # +9.5 dB: overs everywhere for the limiter
        jobs = {
            "mixbuild integrated + true peak": lambda: (integrated_lufs(audio, RATE), true_peak_dbtp(audio, RATE)),
            "mixbuild integrated": lambda: integrated_lufs(audio, RATE),
            "mixbuild measure() (I, M, S, LRA, TP, SP)": lambda: measure(audio, RATE),
            "pyloudnorm integrated (DeMan)": lambda: meter.integrated_loudness(audio),
        }
        if ffmpeg:
            jobs["ffmpeg ebur128=peak=true (process)"] = ffmpeg_job
        jobs[LIMITER] = lambda: true_peak_limit(hot, RATE, -1.0)  # single-threaded: one core's time
        work = np.empty_like(hot)

        def limit_as_final() -> None:
            """`final`'s form: the song's float32 work copy limited in place, a new float32 envelope (the copy
            into the work array, the final's own pass, is timed too)."""
            work[:] = hot
            true_peak_limit(work, RATE, -1.0, in_place=True, envelope=np.empty(work.shape[0], dtype=np.float32))

        jobs[LIMITER_FINAL] = limit_as_final
        # a master's usual case: overs on the loudest peaks only, the gain exactly 1 between them
        light = audio * np.float32(10 ** (1.5 / 20))
        jobs[LIMITER_LIGHT] = lambda: true_peak_limit(light, RATE, -1.0)

        # one warm-up of each, then interleaved timed runs
        for job in jobs.values():
            job()
        times: dict[str, list[float]] = {name: [] for name in jobs}
        for _ in range(args.runs):
            for name, job in jobs.items():
                start = time.perf_counter()
                job()
                times[name].append(time.perf_counter() - start)

    ours = statistics.median(times["mixbuild integrated + true peak"])
    print(f"\nmedian of {args.runs} interleaved runs")
    print(f"{'job':44s} {'seconds':>8s} {'x RT':>8s} {'vs ours I+TP':>13s}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:44s} {median:8.3f} {args.seconds / median:8.0f} {median / ours:12.2f}x")
    pyln = statistics.median(times["pyloudnorm integrated (DeMan)"])
    ours_i = statistics.median(times["mixbuild integrated"])
    print(f"\nintegrated loudness: ours {pyln / ours_i:.2f}x faster than pyloudnorm; "
          f"ours I+TP takes {ours / pyln:.2f}x pyloudnorm's I alone", end="")
    if ffmpeg:
        ff = statistics.median(times["ffmpeg ebur128=peak=true (process)"])
        print(f"; ours I+TP takes {ours / ff:.2f}x the time of ffmpeg I+TP (target <= 2x)")
    else:
        print()
    for name, what in ((LIMITER, "overs everywhere"), (LIMITER_FINAL, "overs everywhere, as final runs it"),
                       (LIMITER_LIGHT, "overs on peaks")):
        limiter = times[name]
        print(f"true-peak limiter, {what} (one core): {args.seconds / statistics.median(limiter):.0f}x RT median of "
              f"{args.runs} (range {args.seconds / max(limiter):.0f}-{args.seconds / min(limiter):.0f}x; "
              "target >= 300x)")


if __name__ == "__main__":
    main()
