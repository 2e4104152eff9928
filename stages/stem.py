"""Stage `stem`: one source file through its channel strip, as stereo, spanning the stem only.

Output is `(n, 2)` post-fader, or `(n, 4)` with the pre-fader (pre-pan, unity-gain) signal in channels
2-3 when a pre-fader send taps this stem; n is the source's length at the render rate. The stem is a
stream: decoded, resampled, filtered and written block by block, so its memory does not grow with its length. The output starts
at the stem's `start_frame(offset_s)` in song time, where the buses and the mixdown place it; the song's
length is theirs, so a longer tail or a later-ending stem leaves this output (and its key) alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from pydantic import Field

from .ahead import computed_ahead
from .dsp.checks import MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ
from .dsp.pages import rechunk
from .mixing import compressor_stream, eq_sos, start_frame
from .params import Breakpoints, RenderParams, StemStrip
from .registry import AudioFile, AudioWriter, RenderError, note, stage


MAX_SOURCE_PEAK = 16.0
"""+24 dBFS: float sources may exceed full scale, but not by enough to overflow the chain."""

DC_OFFSET_NOTE_DBFS = -40.0
"""A source channel whose mean (its DC offset) reaches -40 dBFS (0.01) gets a note: far above what music's
asymmetry leaves over a whole file (under -60 dBFS), low enough to catch a faulty converter or a mis-scaled bounce,
whose offset costs the master headroom and loudness (the limiter sees it as signal)."""


class StemParams(StemStrip, RenderParams):
    """The stem's strip from the spec, plus what the engine decides: a pre-fader tap. No song length: the
    output spans the stem; `offset_s` places the automation, whose breakpoints are in song time."""

    prefader_tap: bool = Field(default=False, description="Also output the pre-fader signal (a pre-fader send).")
    """The output: the post-fader signal, then with a pre-fader tap the pre-fader one; each mono for a mono
    source (the sums place it by pan and width) unless its pan is automated, else stereo."""


@dataclass(frozen=True)
class StemInputs:
    source: Path
    right: Path | None = None
    """With a stem bounced as two mono files: the right channel's (`source` is then the left's)."""


STEM_BLOCK_FRAMES = 1 << 17
"""Frames per block of a stem's stream (2.7 s at 48 kHz), a whole number of compressor blocks. Each block's
dozen numpy and kernel calls each hand the GIL over where two stems render side by side in one process: at
the compressor's 1 << 15, a cold -j 2 build of 4 x 16 x 60 s switched threads 20 k times, 9 k at 1 << 17, and
took 6.54 s against 6.28 s (medians of 3 alternating; -j 1 unchanged, 10.31 against 10.25 s)."""


def _decode_error(path: str, err: Exception) -> RenderError:
    return RenderError(f"{path}: does not decode as audio ({err})")


def _checked(block: np.ndarray, path: str) -> np.ndarray:
    """A decoded block, refused if it holds NaN/Inf or exceeds MAX_SOURCE_PEAK."""
    if not np.isfinite(block).all():
        raise RenderError(f"{path}: contains NaN or Inf samples")
    peak = float(np.abs(block).max(initial=0.0))
    if peak > MAX_SOURCE_PEAK:
        raise RenderError(f"{path}: samples reach {peak:.3g}, over +{20 * np.log10(MAX_SOURCE_PEAK):.0f} dBFS "
                          f"(a float file with unscaled values?)")
    return block


def source_stream(path: str, sample_rate_hz: int) -> tuple[int, int, Iterator[np.ndarray]]:
    """A source file decoded to float64 at the render rate as a stream: (frames, channels, blocks of
    STEM_BLOCK_FRAMES frames, the last shorter). Resampled with libsoxr's stream, which gives what its
    one-shot call gives; NaN/Inf and overs are refused block by block."""
    try:
        source = soundfile.SoundFile(path)
    except (RuntimeError, soundfile.LibsndfileError, OSError) as err:
        raise _decode_error(path, err) from None
    rate, channels, frames = source.samplerate, source.channels, source.frames
    if frames == 0:
        source.close()
        raise RenderError(f"{path}: has no audio frames")
    if not MIN_SAMPLE_RATE_HZ <= rate <= MAX_SAMPLE_RATE_HZ:
        source.close()
        raise RenderError(f"{path}: sample rate must be {MIN_SAMPLE_RATE_HZ:g}..{MAX_SAMPLE_RATE_HZ:g} Hz "
                          f"(got {rate} Hz)")
    out_frames = frames if rate == sample_rate_hz else (2 * frames * sample_rate_hz + rate) // (2 * rate)

    def decoded() -> Iterator[np.ndarray]:
        with source:
            try:
                for block in source.blocks(STEM_BLOCK_FRAMES, dtype="float64", always_2d=True):
                    yield _checked(block, path)
            except (RuntimeError, soundfile.LibsndfileError) as err:
                raise _decode_error(path, err) from None

    def resampled() -> Iterator[np.ndarray]:
        import soxr

        stream = soxr.ResampleStream(rate, sample_rate_hz, channels, dtype="float64", quality="VHQ")
        read = 0
        for block in decoded():
            read += block.shape[0]
            yield stream.resample_chunk(block, last=read >= frames)

    blocks = decoded() if rate == sample_rate_hz else rechunk(resampled(), STEM_BLOCK_FRAMES)
    return out_frames, channels, blocks


def _note_dc_offset(inputs: StemInputs, sums: np.ndarray, frames: int) -> None:
    """Say so where a channel's mean (over the whole source) reaches DC_OFFSET_NOTE_DBFS, naming its file."""
    for index, mean in enumerate(sums / frames):
        path, channel = (inputs.source, index + 1) if inputs.right is None else ((inputs.source, inputs.right)[index], 1)
        level_dbfs = 20 * np.log10(abs(mean)) if mean else -np.inf
        if level_dbfs >= DC_OFFSET_NOTE_DBFS:
            note(f"{path}: channel {channel} has a DC offset of {mean:+.4f} ({level_dbfs:.1f} dBFS), which takes "
                 f"the master's headroom and loudness; remove it at the source, or set the master's dc_filter_hz")


def paired_stream(left: str, right: str, sample_rate_hz: int) -> tuple[int, int, Iterator[np.ndarray]]:
    """Two mono files of one length and rate as one stereo stream (left, right), block by block."""
    frames, left_channels, left_blocks = source_stream(left, sample_rate_hz)
    right_frames, right_channels, right_blocks = source_stream(right, sample_rate_hz)
    if (left_channels, right_channels) != (1, 1) or right_frames != frames:
        raise RenderError(f"{right}: a pair of files is two mono files of one length ({left}: {left_channels} "
                          f"channel(s), {frames} frames; {right}: {right_channels}, {right_frames})")
    return frames, 2, (np.concatenate(pair, axis=1) for pair in zip(left_blocks, right_blocks, strict=True))


@stage("stem", "3")
def render_stem(inputs: StemInputs, p: StemParams) -> AudioFile:
    from .dsp.automation import envelope_range
    from .dsp.iir import initial_state, sosfilt
    from .dsp.pan import invert_polarity, pan_to_stereo, stereo_width

    frames, channels, blocks = (source_stream(str(inputs.source), p.sample_rate_hz) if inputs.right is None else
                                paired_stream(str(inputs.source), str(inputs.right), p.sample_rate_hz))
    sos = eq_sos(p.eq, p.sample_rate_hz)
    eq_state = None if sos is None else initial_state(sos, channels)
    squeeze = compressor_stream(p.compressor, channels, p.sample_rate_hz)
    start, auto = start_frame(p.offset_s, p.sample_rate_hz), p.automation
    # A mono source stays mono (half the bytes): the sums place it by its pan and width. Automated pan
    # places it here, frame by frame.
    mono = channels == 1 and not (auto and auto.pan)
    width = 1 if mono else 2
    out = AudioWriter(frames, 2 * width if p.prefader_tap else width)
    done, sums = 0, np.zeros(channels)

    def filtered() -> Iterator[tuple[int, np.ndarray]]:
        """Each decoded block's frames and its signal through the polarity switch and the EQ."""
        for block in blocks:
            np.add(sums, [block[:, c].sum() for c in range(channels)], out=sums)  # columns: 20x .sum(axis=0)
            audio = invert_polarity(block) if p.polarity_invert else block
            yield block.shape[0], audio if sos is None else sosfilt(sos, audio, eq_state)

    for n, audio in computed_ahead(filtered()):  # the next block decoded and filtered while this one goes on

        def automated(points: Breakpoints) -> np.ndarray:
            """The envelope at this block's song-time frames: the same t = frame / rate as over the song."""
            return envelope_range(points, start + done, n, p.sample_rate_hz)

        if squeeze is not None:
            audio = squeeze.process(audio)
        audio = np.asarray(audio, dtype=np.float64)
        gain_db = p.gain_db + (automated(auto.gain_db) if auto and auto.gain_db else 0.0)
        pan = automated(auto.pan) if auto and auto.pan else p.pan
        gain = 10.0 ** (np.asarray(gain_db) / 20.0)
        gained = audio * (gain[:, None] if np.ndim(gain) else gain)
        post = gained if mono else pan_to_stereo(gained, pan)
        if not mono and p.width != 1.0:  # width 1 returns a copy of its input
            post = stereo_width(post, p.width)
        if done + n > frames:
            break
        pre = audio if mono else pan_to_stereo(audio, 0.0)
        out.write(np.concatenate([post, pre], axis=1) if p.prefader_tap else post)
        done += n
    if done != frames:
        raise RenderError(f"{inputs.source}: decodes to a length other than its header's {frames} frames "
                          f"(a truncated or damaged file?)")
    _note_dc_offset(inputs, sums, frames)
    return out.finish()
