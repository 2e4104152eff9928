"""Argument checks every DSP primitive shares, and the limits the spec, the engine and the kernels agree on.

Imports numpy (and the page walker) only, so that light modules (params, stem) can take these limits without loading a kernel.
"""

from __future__ import annotations

import math
from typing import Any, Literal, overload

import numpy as np

from mixbuild.stages.dsp.pages import walk

#: Sample rates the kernels accept, in Hz (sources, render and delivery rates alike).
MIN_SAMPLE_RATE_HZ = 8_000
MAX_SAMPLE_RATE_HZ = 768_000
#: EQ bands sit below this fraction of the render rate: above it the bilinear warp squeezes them into Nyquist.
MAX_EQ_FREQ_RATIO = 0.45
#: The Butterworth Q, 1/sqrt(2), written sqrt(0.5): that rounds to 0.7071067811865476, the EQ default.
Q_BUTTERWORTH = math.sqrt(0.5)


def check_audio(audio: np.ndarray, name: str = "audio") -> np.ndarray:
    """Validate a (frames, channels) array of finite samples; return it unchanged.

    Raises ValueError naming the parameter for a wrong shape and
    ValueError("audio contains NaN or Inf samples") for non-finite samples.
    """
    if not isinstance(audio, np.ndarray):
        raise ValueError(f"{name}: must be a numpy array of shape (frames, channels) (got {type(audio).__name__})")
    if audio.ndim != 2 or audio.shape[1] < 1:
        raise ValueError(f"{name}: must have shape (frames, channels) with >= 1 channel (got shape {audio.shape})")
    if not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"{name}: must be a float array with full scale at 1.0 (got dtype {audio.dtype})")
    # One pass without a boolean temporary, block by block (a mapped song is not paged in whole); a block
    # whose sum is not finite is confirmed exactly.
    for _, block in walk(audio):
        if not np.isfinite(block.sum(dtype=np.float64)) and not np.isfinite(block).all():
            raise ValueError("audio contains NaN or Inf samples")
    return audio


def check_sample_rate(sample_rate_hz: float, name: str = "sample_rate_hz") -> float:
    """A sample rate in Hz within [MIN_SAMPLE_RATE_HZ, MAX_SAMPLE_RATE_HZ], as float."""
    return check_number(sample_rate_hz, name, ge=MIN_SAMPLE_RATE_HZ, le=MAX_SAMPLE_RATE_HZ)


@overload
def check_number(value: object, name: str, *, ge: float | None = None, gt: float | None = None,
                 le: float | None = None, lt: float | None = None, integer: Literal[True], finite: bool = True) -> int:
    ...


@overload
def check_number(value: object, name: str, *, ge: float | None = None, gt: float | None = None,
                 le: float | None = None, lt: float | None = None, integer: Literal[False] = False,
                 finite: bool = True) -> float:
    ...


def check_number(value: object, name: str, *, ge: float | None = None, gt: float | None = None,
                 le: float | None = None, lt: float | None = None, integer: bool = False, finite: bool = True) -> float:
    """`value` as a float (an int when integer) within the given bounds, or ValueError naming the parameter:
    "{name}: must be in [lo, hi) (got value)", "... must be > 0 and finite ...", "... must be a number ...".

    NaN is always refused, infinities unless finite=False; integer takes Python and numpy ints, never bool.
    At most one lower (ge, gt) and one upper (le, lt) bound.
    """
    number = _as_number(value, name, integer)
    if number is None or not _within(number, ge, gt, le, lt, finite and not integer):
        raise ValueError(f"{name}: must be {_requirement(ge, gt, le, lt, integer, finite)} (got {value!r})")
    return number


def _as_number(value: Any, name: str, integer: bool) -> float | None:
    """float(value), or for integer the int itself (None if value is no int); "must be a number" if float() fails."""
    if integer:
        return int(value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a number (got {value!r})") from None


def _within(number: float, ge: float | None, gt: float | None, le: float | None, lt: float | None,
            finite: bool) -> bool:
    """Whether number is not NaN, finite if asked, and inside every given bound."""
    if number != number or (finite and math.isinf(number)):
        return False
    return ((ge is None or number >= ge) and (gt is None or number > gt)
            and (le is None or number <= le) and (lt is None or number < lt))


def _requirement(ge: float | None, gt: float | None, le: float | None, lt: float | None, integer: bool,
                 finite: bool) -> str:
    """What a valid value is, in words: "in [0, 1)", "> 0 and finite", "an integer >= 0", "a finite number"."""
    lower = (f"[{ge:g}", f">= {ge:g}") if ge is not None else (f"({gt:g}", f"> {gt:g}") if gt is not None else None
    upper = (f"{le:g}]", f"<= {le:g}") if le is not None else (f"{lt:g})", f"< {lt:g}") if lt is not None else None
    if lower and upper:
        bounds = f"in {lower[0]}, {upper[0]}"
    else:
        bounds = (lower or upper or ("", ""))[1]
    if integer:
        return f"an integer {bounds}".rstrip()
    if not bounds:
        return "a finite number" if finite else "a number"
    return f"{bounds} and finite" if finite and not (lower and upper) else bounds
