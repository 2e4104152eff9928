"""Stage `stem`: one source file through its channel strip, as stereo, spanning the stem only.

Output is `(n, 2)` post-fader, or `(n, 4)` with the pre-fader (pre-pan, unity-gain) signal in channels
2-3 when a pre-fader send taps this stem; n is the source's length at the render rate. The output starts
at the stem's `start_frame(offset_s)` in song time, where the buses and the mixdown place it; the song's
length is theirs, so a longer tail or a later-ending stem leaves this output (and its key) alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from pydantic import Field

from .dsp.checks import MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ
from .mixing import compressor, eq_chain, start_frame
from .params import Breakpoints, RenderParams, StemStrip
from .registry import RenderError, stage


MAX_SOURCE_PEAK = 16.0
"""+24 dBFS: float sources may exceed full scale, but not by enough to overflow the chain."""


class StemParams(StemStrip, RenderParams):
    """The stem's strip from the spec, plus what the engine decides: a pre-fader tap. No song length: the
    output spans the stem; `offset_s` places the automation, whose breakpoints are in song time."""

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


@stage("stem", "2")
def render_stem(inputs: StemInputs, p: StemParams) -> np.ndarray:
    from .dsp.automation import envelope
    from .dsp.pan import invert_polarity, pan_to_stereo, stereo_width

    audio = read_source(str(inputs.source), p.sample_rate_hz)
    if p.polarity_invert:
        audio = invert_polarity(audio)
    audio = compressor(eq_chain(audio, p.eq, p.sample_rate_hz), p.compressor, p.sample_rate_hz)
    audio = np.asarray(audio, dtype=np.float64)
    start, n = start_frame(p.offset_s, p.sample_rate_hz), audio.shape[0]

    def automated(points: Breakpoints) -> np.ndarray:
        """The envelope at song-time frames [start, start + n): the same t = frame / rate as over the song."""
        return envelope(points, start + n, p.sample_rate_hz)[start:]

    auto = p.automation
    gain_db = p.gain_db + (automated(auto.gain_db) if auto and auto.gain_db else 0.0)
    pan = automated(auto.pan) if auto and auto.pan else p.pan
    gain = 10.0 ** (np.asarray(gain_db) / 20.0)
    gained = audio * (gain[:, None] if np.ndim(gain) else gain)
    post = stereo_width(pan_to_stereo(gained, pan), p.width)
    if not p.prefader_tap:
        return post
    return np.concatenate([post, pan_to_stereo(audio, 0.0)], axis=1)
