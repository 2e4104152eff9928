"""Pay the kernels' one-time start-up (imports, numba's first cached-function load: ~0.6 s) ahead of need.

`mixbuild watch` calls this while it waits for the first save, so the first tweak renders as fast as
the later ones. Output is discarded; nothing is cached.
"""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np

import stages.dsp


def warm_up(sample_rate_hz: int = 48000) -> None:
    """Import every DSP module and run the compiled and FFT kernels once on 0.1 s of quiet noise."""
    for module in pkgutil.iter_modules(stages.dsp.__path__):
        importlib.import_module(f"stages.dsp.{module.name}")
    from stages.dsp.compressor import compress
    from stages.dsp.limiter import true_peak_limit
    from stages.dsp.loudness import measure

    noise = np.random.default_rng(0).standard_normal((sample_rate_hz // 10, 2)) * 0.01
    for audio in (noise, noise.astype(np.float32)):  # each kernel's float64 and float32 variants
        compress(audio, sample_rate_hz, threshold_db=-60.0, ratio=2.0, sidechain_highpass_hz=100.0)
        compress(audio, sample_rate_hz, threshold_db=-60.0, ratio=2.0)  # the detector reads the audio itself
        true_peak_limit(audio * 200.0, sample_rate_hz, ceiling_dbtp=-1.0)
    true_peak_limit(noise[:4800] * 200.0, 192000, ceiling_dbtp=-1.0)  # >= 176.4 kHz: no oversampling
    measure(noise, sample_rate_hz)
