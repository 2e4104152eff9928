"""Stage `stem`: one source file through its channel strip, placed in song time, as stereo.

Output is `(frames, 2)` post-fader, or `(frames, 4)` with the pre-fader (pre-pan, unity-gain)
signal in channels 2-3 when a pre-fader send taps this stem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from pydantic import Field

from .dsp.checks import MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ
from .mixing import compressor, eq_chain
from .params import RenderParams, StemStrip
from .registry import RenderError, stage


MAX_SOURCE_PEAK = 16.0
"""+24 dBFS: float sources may exceed full scale, but not by enough to overflow the chain."""


class StemParams(StemStrip, RenderParams):
    """The stem's strip from the spec, plus what the engine decides: song length and a pre-fader tap."""

    frames: int = Field(gt=0, description="Song length in frames, tail included.")
    prefader_tap: bool = Field(default=False, description="Also output the pre-fader signal (a pre-fader send).")


@dataclass(frozen=True)
class StemInputs:
    source: Path


def read_source(path: str, sample_rate_hz: int) -> np.ndarray:
    """Decode a source file to float64 `(frames, channels)` at the render rate; refuse NaN/Inf."""
    from .dsp.resample import resample

    try:
        audio, rate = soundfile.read(path, dtype="float64", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, OSError) as err:
        raise RenderError(f"{path}: does not decode as audio ({err})") from None
    if not np.isfinite(audio).all():
        raise RenderError(f"{path}: contains NaN or Inf samples")
    if audio.shape[0] == 0:
        raise RenderError(f"{path}: has no audio frames")
    peak = float(np.abs(audio).max())
    if peak > MAX_SOURCE_PEAK:
        raise RenderError(f"{path}: samples reach {peak:.3g}, over +{20 * np.log10(MAX_SOURCE_PEAK):.0f} dBFS "
                          f"(a float file with unscaled values?)")
    if not MIN_SAMPLE_RATE_HZ <= rate <= MAX_SAMPLE_RATE_HZ:
        raise RenderError(f"{path}: sample rate must be {MIN_SAMPLE_RATE_HZ:g}..{MAX_SAMPLE_RATE_HZ:g} Hz "
                          f"(got {rate} Hz)")
    return resample(audio, rate, sample_rate_hz) if rate != sample_rate_hz else audio


@stage("stem", "1")
def render_stem(inputs: StemInputs, p: StemParams) -> np.ndarray:
    from .dsp.automation import envelope
    from .dsp.pan import invert_polarity, pan_to_stereo, stereo_width

    audio = read_source(str(inputs.source), p.sample_rate_hz)
    if p.polarity_invert:
        audio = invert_polarity(audio)
    audio = compressor(eq_chain(audio, p.eq, p.sample_rate_hz), p.compressor, p.sample_rate_hz)
    placed = np.zeros((p.frames, audio.shape[1]))
    start = int(round(p.offset_s * p.sample_rate_hz))
    n = max(0, min(audio.shape[0], p.frames - start))
    placed[start:start + n] = audio[:n]

    auto = p.automation
    gain_db = p.gain_db + (envelope(auto.gain_db, p.frames, p.sample_rate_hz) if auto and auto.gain_db else 0.0)
    pan = envelope(auto.pan, p.frames, p.sample_rate_hz) if auto and auto.pan else p.pan
    gain = 10.0 ** (np.asarray(gain_db) / 20.0)
    gained = placed * (gain[:, None] if np.ndim(gain) else gain)
    post = stereo_width(pan_to_stereo(gained, pan), p.width)
    if not p.prefader_tap:
        return post
    return np.concatenate([post, pan_to_stereo(placed, 0.0)], axis=1)
