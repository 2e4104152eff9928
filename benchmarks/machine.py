"""What machine a benchmark ran on, printed beside its figures."""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo, else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


_MEMORY_PASS = """
import sys, time
import numpy as np
a = np.ones(20_000_000)  # 160 MB in, 160 MB out: far past every cache
b = np.empty_like(a)
np.multiply(a, 1.0001, out=b)
start = time.perf_counter()
for _ in range(int(sys.argv[1])):
    np.multiply(a, 1.0001, out=b)
print(time.perf_counter() - start)
"""


def memory_pass_slowdown(passes: int = 30, repeat: int = 3) -> tuple[float, float]:
    """(seconds of a memory-bound numpy pass alone, the same pass's seconds with a second copy running at
    once in another process), medians of `repeat`: how much two jobs slow each other down through memory
    and the host (a shared VM's two cores may be one core's hyperthreads). 2 x alone / paired bounds the
    -j 2 speedup of work that streams through memory, as a build's nodes do."""
    import statistics
    import subprocess
    import sys

    def run(copies: int) -> list[float]:
        procs = [subprocess.Popen([sys.executable, "-c", _MEMORY_PASS, str(passes)], stdout=subprocess.PIPE,
                                  text=True) for _ in range(copies)]
        return [float(p.communicate()[0]) for p in procs]

    alone, paired = [], []
    for _ in range(repeat):
        alone += run(1)
        paired += run(2)
    return statistics.median(alone), statistics.median(paired)
