"""Stage `export` (<song>/export/<target>): dither, quantise, encode and measure one delivery file, untagged.

Lossless formats are dithered and quantised to the target's bit depth; lossy codecs encode the float final.
The tags are written by the `tagged` stage, so that a metadata edit does not encode and measure again.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import mutagen
import numpy as np
import soundfile
from mutagen.id3 import ID3, TALB, TIT2, TPE1, TRCK, TSRC, TXXX

from .dsp.pages import rechunk
from .formats import LOSSLESS, LOSSY, fixed_ogg_serial, is_lossy, sound_file_writer
from .delivery import BitDepth, Encoding
from .params import RenderParams
from .registry import Blob, RenderError, scratch_file, stage
from .workspace import errors_named, work_array

if TYPE_CHECKING:
    from .dsp.loudness import LoudnessReport

ID3_FRAMES = {"title": TIT2, "artist": TPE1, "album": TALB, "tracknumber": TRCK, "isrc": TSRC}
VORBIS_FORMATS = {"flac", "ogg", "opus"}


class ExportParams(Encoding, RenderParams):
    """The target's encoding, at its delivery rate (the file's tags are the `tagged` stage's)."""

    dither_seed: int = 0
    """From the node id, not its key: the same node dithers the same way whatever else changes."""
    ceiling_dbtp: float = 0.0
    """Lossy codecs: the true peak the decoded file must stay under (the final's limiter ceiling)."""


EXPORT_BLOCK_FRAMES = 1 << 16
"""Frames per block as an export dithers, quantises, writes and decodes a final."""

SUBTYPES: dict[BitDepth, str] = {16: "PCM_16", 24: "PCM_24", "32f": "FLOAT"}
"""The libsndfile subtype a lossless bit depth is written as."""


def pcm_block(block: np.ndarray, bit_depth: BitDepth, quantizer: Any) -> tuple[np.ndarray, np.ndarray]:
    """The block as the file stores it, in the dtype soundfile writes exactly (24-bit codes in int32's top
    bits), and the samples that decodes to, as soundfile reads them back (float32 holds every 16- and 24-bit
    value exactly); `quantizer`: the final's `Quantizer`."""
    if bit_depth == "32f":
        pcm = np.asarray(block, dtype=np.float32)
        return pcm, pcm
    samples = np.empty(block.shape, dtype=np.float32)
    codes = quantizer.codes(block, samples)
    return (codes.astype(np.int16) if bit_depth == 16 else codes.astype(np.int32) << 8), samples


def pcm_appendable(fmt: str, data_bytes: int) -> bool:
    """Whether a file's PCM of `data_bytes` may be written behind the header libsndfile wrote (packed here, or
    spliced from tracks): a WAV of even data size (libsndfile pads an odd one) whose sizes, with a header and
    tags under 1 KiB, fit RIFF's 32 bits (a longer file is RF64, which libsndfile writes)."""
    from .wav import RIFF_MAX_BYTES

    return fmt == "wav" and data_bytes % 2 == 0 and data_bytes < RIFF_MAX_BYTES - 1024


def packed_wav_bytes(p: ExportParams, frames: int, channels: int) -> int:
    """The data size of a 16/24-bit WAV whose PCM the export packs itself (see pcm_appendable); 0 where
    libsndfile writes it. The bytes are libsndfile's; packed in the quantiser's pass, a 4-minute 24-bit
    stereo export saves about 0.3 s of libsndfile's 8 KiB writes through Python."""
    data_bytes = frames * channels * (p.bit_depth // 8 if p.bit_depth in (16, 24) else 0)
    return data_bytes if pcm_appendable(p.format, data_bytes) else 0


def encode(final: np.ndarray, p: ExportParams, path: Path) -> np.ndarray:
    """Dither, quantise and write `final` to `path` in the target's format and bit depth block by block (the
    bytes one write of the whole gives); returns the samples the file decodes to, kept as they are made, on
    the heap or (a long song) in a scratch map (see workspace)."""
    from .dsp.dither import Quantizer
    from .dsp.pages import drop_pages
    from .wav import set_data_size

    frames, channels = final.shape
    quantizer = None if p.bit_depth == "32f" else Quantizer(p.bit_depth, p.dither, p.dither_seed)
    samples = work_array((frames, channels), np.float32)
    data_bytes = packed_wav_bytes(p, frames, channels)

    def blocks() -> Iterator[np.ndarray]:
        """Each block as the file stores it (packed bytes, or what libsndfile is given), its decode kept."""
        for start in range(0, frames, EXPORT_BLOCK_FRAMES):
            block = final[start:start + EXPORT_BLOCK_FRAMES]
            if data_bytes:
                assert quantizer is not None and p.bit_depth in (16, 24)
                pcm, decoded = quantizer.pcm(block, p.bit_depth // 8)
            else:
                pcm, decoded = pcm_block(block, p.bit_depth, quantizer)
            samples[start:start + decoded.shape[0]] = decoded
            drop_pages(samples, start + decoded.shape[0], start)
            drop_pages(final, start + EXPORT_BLOCK_FRAMES, start)
            yield pcm

    with sound_file_writer(path, p.sample_rate_hz, channels, SUBTYPES[p.bit_depth], LOSSLESS[p.format]) as sink:
        if not data_bytes:
            for pcm in blocks():
                sink.write(pcm)
    if data_bytes:  # libsndfile wrote the header and an empty data chunk: the PCM follows it
        offset = set_data_size(path, data_bytes)
        with errors_named(path), path.open("r+b") as fh:
            fh.seek(offset)
            for pcm in blocks():
                fh.write(pcm.data)
    return samples


LOSSY_WRITE_FRAMES = 8192
"""Frames per write to a lossy encoder: libvorbis allocates its whole pending input on the stack, so one
write of a long song overflows it (libsndfile#1095, python-soundfile#396); blocks keep it small."""


LOSSY_CEILING_PASSES = 4
"""Encodes tried before giving up on the ceiling; one trim usually suffices, codec overshoot is ~0.1-1 dB."""


def _write_lossy(programme: Callable[[], Iterable[np.ndarray]], gain: np.float32, channels: int,
                 sample_rate_hz: int, fmt: str, path: Path) -> None:
    container, subtype = LOSSY[fmt]
    with sound_file_writer(path, sample_rate_hz, channels, subtype, container) as sink:
        for block in rechunk(programme(), LOSSY_WRITE_FRAMES):
            sink.write(np.asarray(block, dtype=np.float32) * gain)
    if container == "OGG":
        path.write_bytes(fixed_ogg_serial(path.read_bytes()))


def decode_to(path: Path, into: Path) -> np.ndarray:
    """An encoded file's samples as soundfile reads them (float32), decoded block by block into the raw file
    `into` and mapped from it: a long programme's decode is not held on the heap."""
    with soundfile.SoundFile(str(path)) as source, into.open("wb") as sink:
        channels, frames = source.channels, 0
        for block in source.blocks(EXPORT_BLOCK_FRAMES, dtype="float32", always_2d=True):
            sink.write(block.tobytes())
            frames += block.shape[0]
    if not frames:
        return np.zeros((0, channels), dtype=np.float32)
    return np.memmap(into, dtype=np.float32, mode="r", shape=(frames, channels))


def encode_lossy(programme: Callable[[], Iterable[np.ndarray]], channels: int, sample_rate_hz: int, fmt: str,
                 path: Path, ceiling_dbtp: float, decoded_into: Path) -> tuple[np.ndarray, float]:
    """Encode float samples (each call of `programme` gives them afresh, in blocks) with the target's lossy
    codec (libsndfile defaults), reproducibly, so that the decoded file's true peak stays at or under
    `ceiling_dbtp`: a codec overshoots the limiter's ceiling (its filtering rebuilds peaks the limiter
    removed), so the input is trimmed by the measured excess and encoded again. Returns the decoded samples
    (mapped from `decoded_into`) and their true peak (dBTP), for the file's facts."""
    from .dsp.truepeak import true_peak_dbtp

    trim_db = 0.0
    for _ in range(LOSSY_CEILING_PASSES):
        _write_lossy(programme, np.float32(10.0 ** (trim_db / 20.0)), channels, sample_rate_hz, fmt, path)
        decoded_audio = decode_to(path, decoded_into)
        peak_dbtp = true_peak_dbtp(decoded_audio, sample_rate_hz)
        excess_db = peak_dbtp - ceiling_dbtp
        if excess_db <= 0.0:
            return decoded_audio, peak_dbtp
        trim_db -= excess_db + 0.05  # a hair under: the codec's overshoot moves a little with the level
    raise RenderError(f"{fmt}: the decoded true peak stays {excess_db:.2f} dB over the {ceiling_dbtp} dBTP "
                      f"ceiling after {LOSSY_CEILING_PASSES} encodes; lower the target's ceiling_dbtp")


def vorbis_comments(tags: dict[str, str]) -> dict[str, str]:
    """Tags as Vorbis comments: upper-case keys, and `n/N` track numbers split into TRACKNUMBER and
    TRACKTOTAL as the Vorbis convention has it (ID3's TRCK keeps `n/N`)."""
    comments = {key.upper(): value for key, value in tags.items()}
    number, _, total = comments.get("TRACKNUMBER", "").partition("/")
    if total:
        comments.update(TRACKNUMBER=number, TRACKTOTAL=total)
    return comments


def tag_file(path: Path, fmt: str, tags: dict[str, str]) -> None:
    """Tags with mutagen: Vorbis comments for FLAC/OGG, ID3 (TXXX for custom keys) for WAV/AIFF/MP3."""
    if not tags:
        return
    audio = mutagen.File(str(path))
    if audio is None:
        return
    if fmt in VORBIS_FORMATS:
        for key, value in sorted(vorbis_comments(tags).items()):
            audio[key] = value
    else:
        if audio.tags is None:
            audio.add_tags()
        id3: ID3 = audio.tags
        for key, value in sorted(tags.items()):
            frame = ID3_FRAMES.get(key.lower())
            id3.add(frame(encoding=3, text=value) if frame else TXXX(encoding=3, desc=key, text=value))
    audio.save()


BIT_DEPTH_BY_SUBTYPE = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32}
"""Stored bits per sample of the lossless subtypes we write (`FLOAT` is 32-bit float)."""


def sha256_of(source: bytes | Path) -> str:
    """sha256 hex of a file's bytes, read in blocks when it is a path (an album file is never held whole)."""
    if isinstance(source, Path):
        with source.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    return hashlib.sha256(source).hexdigest()


def rounded(x: float) -> float | None:
    """A loudness figure as the manifest reports it: 0.01 dB, None for -inf (silence)."""
    return round(float(x), 2) if np.isfinite(x) else None


def stream_facts(source: bytes | Path, sha256: str | None = None) -> dict[str, Any]:
    """The manifest facts a file's header and bytes give: digest, duration, rate, channels, subtype, depth
    (`sha256`: the bytes' digest where the caller hashed them, the file then being read for its header only)."""
    info = soundfile.info(str(source) if isinstance(source, Path) else io.BytesIO(source))
    return {"sha256": sha256 or sha256_of(source), "duration_s": round(info.frames / info.samplerate, 6),
            "sample_rate": info.samplerate, "channels": info.channels, "subtype": info.subtype,
            "bit_depth": BIT_DEPTH_BY_SUBTYPE.get(info.subtype)}


def loudness_facts(audio: np.ndarray, sample_rate_hz: int,
                   true_peak_dbtp: float | None = None) -> tuple[dict[str, Any], LoudnessReport]:
    """The manifest's measured loudness (BS.1770-4, Tech 3342) of a delivery file's samples as it decodes,
    and the measurement they come from; `true_peak_dbtp` where the caller knows it exactly."""
    from .dsp.loudness import measure

    report = measure(audio, sample_rate_hz, true_peak=true_peak_dbtp is None)
    peak = report.true_peak_dbtp if true_peak_dbtp is None else true_peak_dbtp
    return {"integrated_lufs": rounded(report.integrated_lufs), "lra_lu": rounded(report.lra_lu),
            "true_peak_dbtp": rounded(peak)}, report


def file_facts(source: bytes | Path, audio: np.ndarray | None = None,
               true_peak_dbtp: float | None = None) -> dict[str, Any]:
    """The manifest facts of one delivery file: digest and format (`stream_facts`), and measured loudness.

    `audio` may give the file's samples exactly as it decodes, `true_peak_dbtp` its true peak when the caller
    knows it exactly; otherwise they are measured. `bit_depth` is the stored sample width (16, 24, 32; None
    for lossy formats, which store none).
    """
    facts = stream_facts(source)
    if audio is None:
        audio, _ = soundfile.read(str(source) if isinstance(source, Path) else io.BytesIO(source),
                                  dtype="float64", always_2d=True)
    return {**facts, **loudness_facts(audio, facts["sample_rate"], true_peak_dbtp)[0]}


def sequence_measures(samples: np.ndarray, sample_rate_hz: int, report: LoudnessReport) -> dict[str, Any]:
    """What an album file sequencing this track needs of it, so that the album's facts are assembled, not
    measured again: its 100 ms K-weighted energies, its true peak and the true-peak envelope of its ringing
    into the silence before and after it (all linear)."""
    from .dsp.truepeak import edge_ringing

    before, after = edge_ringing(samples, sample_rate_hz)
    return {"segment_energies": report.segment_energies.tolist(),
            "true_peak": 10.0 ** (report.true_peak_dbtp / 20.0), "ringing_before": before.tolist(),
            "ringing_after": after.tolist()}


@dataclass(frozen=True)
class ExportInputs:
    final: np.ndarray


@stage("export", "3")
def render_export(inputs: ExportInputs, p: ExportParams) -> dict[str, Any]:
    from .dsp.pages import walk

    path = scratch_file(f".{p.format}")
    if is_lossy(p.format):  # facts from the decode the ceiling was checked on: the codec changed the samples
        final, decoded_path = inputs.final, scratch_file(".f32")
        try:
            samples, peak_dbtp = encode_lossy(lambda: (block for _, block in walk(final, LOSSY_WRITE_FRAMES)),
                                              final.shape[1], p.sample_rate_hz, p.format, path, p.ceiling_dbtp,
                                              decoded_path)
            facts, _ = loudness_facts(samples, p.sample_rate_hz, peak_dbtp)
        finally:
            decoded_path.unlink(missing_ok=True)
        return {"file": Blob(path, f".{p.format}"), "facts": facts}
    samples = encode(inputs.final, p, path)  # what the file decodes to
    facts, report = loudness_facts(samples, p.sample_rate_hz)
    sequence = sequence_measures(samples, p.sample_rate_hz, report)
    return {"file": Blob(path, f".{p.format}"), "facts": facts, "sequence": sequence}
