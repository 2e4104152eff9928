"""Would compressing the cache's float32 audio objects pay? Ratio and speed of lossless candidates, measured only.

Signals (48 kHz stereo float32, synthesised, seeded):

- mix: a mastered-mix-like signal (notes, kick, hats, sections at different levels, a slow gain ride)
  with exact-zero digital silence before, after and in a break: every mantissa bit is busy elsewhere.
- stem 24-bit: a bass-like stem quantised to 24 bits, as decoded from a 24-bit WAV (what a stem object
  holds when no gain or processing changed its samples), silent for a third of its length.

Candidates: raw .npy (what the cache stores now), byte-shuffle (the 4 bytes of each float into 4
planes, numpy) + zlib level 1, byte-shuffle + zstd (levels 1 and 3; the `zstandard` package), blosc2
(its own shuffle, LZ4 and ZSTD codecs, one thread like the others, and its bytedelta filter). Each is
timed in this one process on the same bytes, median of --runs: compress (array -> bytes) and load
(bytes in memory, as from the page cache, -> a float32 array) in MB/s and GB/s of audio, and checked
bit-exact. A candidate missing from this environment is listed as such. The issue's rule (14, item 6):
keep compression only where load speed stays above 1 GB/s; the verdict applies it to both signals.

    .venv/bin/python benchmarks/bench_cache.py [--runs 5] [--seconds 60] [--cache DIR]

--cache DIR also reports, size only, the ratio each candidate gets on every array object of an
existing cache (e.g. the demo's: `mixbuild demo` fills ./cache).

Measured (3 runs on a shared 2-core AMD EPYC, load average ~3; ranges over the runs): raw .npy loads at
3.0-3.5 GB/s. Byte-shuffle + zstd 1 saves 25% on the mix and 60% on the 24-bit stem but loads at
0.74-1.08 GB/s (numpy's unshuffle alone is ~1 GB/s): fails. zlib 1 loads at 0.2-0.4 GB/s: fails.
blosc2 (SIMD shuffle, one thread) passes: shuffle + zstd 1 the same 25% / 60% at 1.4-2.2 GB/s (about half
raw's speed), shuffle + lz4 21% / 53% at 2.4-3.0 GB/s; its bytedelta filter (66% on the stem) is
borderline (0.6-1.3 GB/s). On the demo's 41 cache arrays (431 MB): zstd 3 2.0x, zstd 1 1.95x, blosc2
zstd 1.7x, blosc2 lz4 1.6x. Not adopted yet: the cache serves arrays as memory maps today.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's pipeline, stages and testkit

from machine import cpu_model  # noqa: E402
from testkit.music import notes_kick_hats  # noqa: E402

RATE = 48000
LOAD_RULE_GBPS = 1.0
"""Issue 14, item 6: compression is kept only where load speed stays above this."""


# ---------------------------------------------------------------- signals


def mix_like(seconds: float, seed: int = 0) -> np.ndarray:
    """A mastered mix: notes, kick, hats at section levels, a gain ride, and exact-zero silences."""
    rng = np.random.default_rng(seed)
    frames = int(seconds * RATE)
    t = np.arange(frames) / RATE
    out = notes_kick_hats(seconds, RATE, rng)
    sections = np.repeat(rng.uniform(0.2, 1.0, int(seconds // 15) + 1), 15 * RATE)[:frames]
    ride = 1 + 0.15 * np.sin(2 * np.pi * t / 7.0)
    out *= (sections * ride)[:, None]
    out = np.tanh(1.5 * out / np.abs(out).max()) * 0.89  # a soft "limiter": loud, dense
    out[: int(0.5 * RATE)] = 0.0  # digital silence before the first note,
    out[frames - 2 * RATE:] = 0.0  # after the last one,
    mid = frames // 2
    out[mid: mid + RATE] = 0.0  # and a one-second break
    return out.astype(np.float32)


def stem_24bit(seconds: float, seed: int = 1) -> np.ndarray:
    """A bass stem as decoded from a 24-bit WAV: samples k / 2**23, silent (exact zeros) a third of the time."""
    rng = np.random.default_rng(seed)
    frames = int(seconds * RATE)
    out = np.zeros((frames, 2))
    bar = 2 * RATE
    tt = np.arange(bar) / RATE
    for start in range(0, frames - bar, bar):
        if rng.uniform() < 1 / 3:
            continue  # the bass sits this bar out
        f0 = 41.2 * 2 ** (rng.integers(0, 12) / 12)
        note = (np.sin(2 * np.pi * f0 * tt) + 0.3 * np.sin(4 * np.pi * f0 * tt)) * np.exp(-1.5 * tt)
        note *= np.minimum(tt / 0.01, 1.0) * np.minimum((bar - np.arange(bar)) / 480, 1.0)
        out[start:start + bar] += 0.25 * note[:, None] * [1.0, 0.97]
    out += 1e-4 * rng.standard_normal(out.shape) * (np.abs(out) > 0)  # amp noise while it plays
    return (np.round(out * 2 ** 23) / 2 ** 23).astype(np.float32)


# ---------------------------------------------------------------- candidates


def shuffle(arr: np.ndarray) -> bytes:
    """The bytes of each float32 as 4 planes (all first bytes, then all second bytes, ...)."""
    return np.ascontiguousarray(np.asarray(arr, dtype=np.float32).reshape(-1).view(np.uint8).reshape(-1, 4).T).tobytes()


def unshuffle(data: bytes | bytearray | memoryview, shape: tuple[int, ...]) -> np.ndarray:
    """Undo ``shuffle``: a new float32 array of ``shape``. A strided write per plane is the fastest numpy
    way found (~2x a transposed copy, ~2.5x OR-ing shifted uint32 planes)."""
    planes = np.frombuffer(data, dtype=np.uint8).reshape(4, -1)
    out = np.empty((planes.shape[1], 4), dtype=np.uint8)
    for k in range(4):
        out[:, k] = planes[k]
    return out.view(np.float32).reshape(shape)


@dataclass(frozen=True)
class Candidate:
    name: str
    compress: Callable[[np.ndarray], bytes]
    load: Callable[[bytes, tuple[int, ...]], np.ndarray]


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def candidates() -> tuple[list[Candidate], list[str]]:
    """(the candidates this environment has, the names of those it lacks and why)."""
    found = [
        Candidate("raw .npy (now)", _npy_bytes, lambda data, _shape: np.load(io.BytesIO(data), allow_pickle=False)),
        Candidate("shuffle + zlib 1", lambda a: zlib.compress(shuffle(a), 1),
                  lambda data, shape: unshuffle(zlib.decompress(data), shape)),
    ]
    missing = []
    try:
        import zstandard
    except ImportError:
        missing.append("shuffle + zstd: `zstandard` not installed (pip install '.[bench]')")
    else:
        for level in (1, 3):
            compressor = zstandard.ZstdCompressor(level=level)
            decompressor = zstandard.ZstdDecompressor()
            found.append(Candidate(f"shuffle + zstd {level}", lambda a, c=compressor: c.compress(shuffle(a)),
                                   lambda data, shape, d=decompressor: unshuffle(d.decompress(data), shape)))
    try:
        import blosc2
    except ImportError:
        missing.append("blosc2: not installed (pip install blosc2; not in the bench extra)")
    else:
        blosc2.set_nthreads(1)  # one core, as the other candidates; a worker loads one object at a time
        settings = [("blosc2 shuffle + lz4 5", blosc2.Codec.LZ4, 5, [blosc2.Filter.SHUFFLE]),
                    ("blosc2 shuffle + zstd 1", blosc2.Codec.ZSTD, 1, [blosc2.Filter.SHUFFLE]),
                    ("blosc2 shuffle+bytedelta + zstd 1", blosc2.Codec.ZSTD, 1,
                     [blosc2.Filter.SHUFFLE, blosc2.Filter.BYTEDELTA])]
        for name, codec, clevel, filters in settings:
            cparams = {"codec": codec, "clevel": clevel, "filters": filters, "typesize": 4, "nthreads": 1}
            found.append(Candidate(
                name, lambda a, p=cparams: blosc2.compress2(np.ascontiguousarray(a), **p),
                lambda data, shape: np.frombuffer(blosc2.decompress2(data), dtype=np.float32).reshape(shape)))
    return found, missing


# ---------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Figures:
    ratio: float  # raw float32 bytes / stored bytes
    compress_mbps: float
    load_gbps: float


def _median_s(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(candidate: Candidate, arr: np.ndarray, runs: int) -> Figures:
    stored = candidate.compress(arr)
    back = candidate.load(stored, arr.shape)
    if back.dtype != np.float32 or not np.array_equal(back.view(np.uint32), arr.view(np.uint32)):
        raise AssertionError(f"{candidate.name}: not bit-exact")
    compress_s = _median_s(lambda: candidate.compress(arr), runs)
    load_s = _median_s(lambda: candidate.load(stored, arr.shape), runs)
    return Figures(arr.nbytes / len(stored), arr.nbytes / compress_s / 1e6, arr.nbytes / load_s / 1e9)


def cache_ratios(cache: Path, found: list[Candidate]) -> None:
    """Size only: each candidate's ratio over every array object of ``cache``."""
    paths = sorted((cache / "objects").glob("*/*.npy"))
    if not paths:
        print(f"\n{cache}: no array objects")
        return
    raw = 0
    stored = dict.fromkeys((c.name for c in found), 0)
    for path in paths:
        arr = np.load(path, allow_pickle=False)
        if arr.dtype != np.float32:
            continue
        raw += arr.nbytes
        for candidate in found:
            stored[candidate.name] += len(candidate.compress(arr))
    print(f"\n{cache}: {len(paths)} array objects, {raw / 1e6:.0f} MB of float32 (size only)")
    for name, size in stored.items():
        print(f"  {name:<36} {raw / size:5.2f}x  ({size / 1e6:.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--cache", type=Path, default=None, help="also report ratios over this cache's arrays")
    args = parser.parse_args()

    print(f"nproc: {os.cpu_count()} (usable: {len(os.sched_getaffinity(0))}), CPU: {cpu_model()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, zlib {zlib.ZLIB_RUNTIME_VERSION}"
          + "".join(f", {name} {_version(name)}" for name in ("zstandard", "blosc2") if _version(name)))
    signals = {"mix": mix_like(args.seconds), "stem 24-bit": stem_24bit(args.seconds)}
    for name, arr in signals.items():
        zeros = float(np.mean(arr == 0))
        print(f"signal {name}: {args.seconds:g} s, {RATE} Hz stereo float32, {arr.nbytes / 1e6:.1f} MB, "
              f"{zeros:.0%} exact zeros")
    found, missing = candidates()
    results = {c.name: {s: measure(c, arr, args.runs) for s, arr in signals.items()} for c in found}

    print(f"\nmedian of {args.runs}; compress: MB/s of float32 in; load: GB/s of float32 out, from bytes in "
          "memory; 'vs raw': load speed over raw .npy's in this run (a shared machine's noise cancels)")
    raw_name = found[0].name
    for signal_name in signals:
        raw_load = results[raw_name][signal_name].load_gbps
        print(f"\n{signal_name:<36}{'ratio':>7}{'compress MB/s':>15}{'load GB/s':>11}{'vs raw':>8}")
        for name, per_signal in results.items():
            f = per_signal[signal_name]
            print(f"{name:<36}{f.ratio:6.2f}x{f.compress_mbps:15.0f}{f.load_gbps:11.2f}{f.load_gbps / raw_load:8.2f}")
    for line in missing:
        print(f"{line}")

    print(f"\nverdict (issue 14 item 6: keep it only where load stays above {LOAD_RULE_GBPS:g} GB/s):")
    for name, per_signal in results.items():
        if name == raw_name:
            continue
        slow = [s for s, f in per_signal.items() if f.load_gbps < LOAD_RULE_GBPS]
        saving = ", ".join(f"{s} -{1 - 1 / f.ratio:.0%}" for s, f in per_signal.items())
        verdict = f"fails: loads {', '.join(slow)} below {LOAD_RULE_GBPS:g} GB/s" if slow else "passes"
        print(f"  {name:<36} {verdict} (size {saving})")
    if args.cache is not None:
        cache_ratios(args.cache, found)


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return ""


if __name__ == "__main__":
    sys.exit(main())
