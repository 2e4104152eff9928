"""Stage `album_export` (album/export/<target>): the deliverables of one target.

Per song `NN - Title.ext`, a sequenced album file with the songs' gaps, a CUE sheet for CD
targets, and `<album title>.manifest.json` with each audio file's title, track number (null for the album
file), digest, format and measured loudness, and the CUE sheet's digest.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from .export import encode_lossy, file_facts, pcm_appendable, rounded, stream_facts, tag_file
from .naming import album_file_stem, manifest_name, track_file_stem
from .formats import CUE_FILE_TYPES, LOSSLESS, is_lossy, sound_file_writer
from .delivery import FormatName
from .params import SpecModel
from .registry import Blob, SplicedFile, scratch_file, stage

CD_FRAME_SAMPLES = 588  # 44100 / 75: CUE times count CD frames of 1/75 s


class TrackInfo(SpecModel):
    title: str
    performer: str = ""
    isrc: str | None = None
    gap_s: float = 2.0


class AlbumExportParams(SpecModel):
    """What the target's deliverables are named, tagged and sequenced with."""

    target: str
    format: FormatName
    sample_rate_hz: int
    album_title: str
    album_artist: str = ""
    catalog: str | None = None
    tracks: list[TrackInfo]
    cue_sheet: bool = False
    ceiling_dbtp: float = 0.0
    """Lossy album file: the true peak its decode must stay under (the lowest of the songs' ceilings)."""


def cue_time(frames: int, sample_rate_hz: int) -> str:
    """mm:ss:ff in CD frames (1/75 s) of a sample offset that lies on a CD-frame boundary."""
    cd_frames = frames * 75 // sample_rate_hz
    return f"{cd_frames // 4500:02d}:{cd_frames // 75 % 60:02d}:{cd_frames % 75:02d}"


def cue_sheet(p: AlbumExportParams, album_file: str, starts: list[int]) -> str:
    quote = lambda s: s.replace('"', "'")  # noqa: E731 - CUE has no escape for quotes
    lines = ['REM COMMENT "mixbuild"']
    if p.catalog:  # CUE's CATALOG is 13 digits: a 12-digit UPC-A is the EAN-13 with a leading zero
        lines.append(f"CATALOG {p.catalog.zfill(13)}")
    lines += [f'PERFORMER "{quote(p.album_artist)}"', f'TITLE "{quote(p.album_title)}"',
              f'FILE "{quote(album_file)}" {CUE_FILE_TYPES[p.format]}']
    for number, (track, start) in enumerate(zip(p.tracks, starts), start=1):
        lines += [f"  TRACK {number:02d} AUDIO", f'    TITLE "{quote(track.title)}"',
                  f'    PERFORMER "{quote(track.performer or p.album_artist)}"']
        if track.isrc:
            lines.append(f"    ISRC {track.isrc}")
        lines.append(f"    INDEX 01 {cue_time(start, p.sample_rate_hz)}")
    return "\n".join(lines) + "\n"


READ_BLOCK_FRAMES = 1 << 16
"""Frames per block when the album file is written from its tracks or read back: memory stays per block."""


SPLICED_SUBTYPES = {"PCM_16": 2, "PCM_24": 3}
"""WAV subtypes whose album file is spliced from the tracks' bytes, with their bytes per sample (a float
WAV's PEAK chunk would need the whole album's peaks, so float goes through libsndfile)."""


def splice_frame_bytes(p: AlbumExportParams, tracks: list[Path], lengths: list[int]) -> int:
    """Bytes per frame of an album file spliced from its tracks' PCM bytes (16/24-bit WAV whose sizes fit
    RIFF's 32 bits, on POSIX); 0 where it is written through libsndfile instead."""
    info = soundfile.info(str(tracks[0]))
    frame_bytes = SPLICED_SUBTYPES.get(info.subtype, 0) * info.channels
    data_bytes = sum(lengths) * frame_bytes
    splice = frame_bytes and pcm_appendable(p.format, data_bytes) and hasattr(os, "pwrite")  # POSIX: pwrite
    return frame_bytes if splice else 0


def write_sequence(path: Path, p: AlbumExportParams, tracks: list[Path], lengths: list[int]) -> None:
    """The album file: each track file's frames, exactly (stored integers or float32 pass through), then
    silence up to its length in the sequence (its gap, CD-frame padding). 16/24-bit WAV is spliced from the
    tracks' PCM bytes; other formats are copied block by block through libsndfile."""
    from .wav import splice_pcm

    info = soundfile.info(str(tracks[0]))
    frame_bytes = splice_frame_bytes(p, tracks, lengths)
    dtype = "float32" if "FLOAT" in info.subtype else "int32"
    if frame_bytes:
        with sound_file_writer(path, p.sample_rate_hz, info.channels, info.subtype, LOSSLESS[p.format]):
            pass  # the header and an empty data chunk, to which splice_pcm appends
        splice_pcm(path, tracks, lengths, frame_bytes)
        return
    with sound_file_writer(path, p.sample_rate_hz, info.channels, info.subtype, LOSSLESS[p.format]) as sink:
        for track, length in zip(tracks, lengths):
            written = 0
            with soundfile.SoundFile(str(track)) as source:
                for block in source.blocks(READ_BLOCK_FRAMES, dtype=dtype, always_2d=True):
                    sink.write(block)
                    written += block.shape[0]
            silence = np.zeros((min(READ_BLOCK_FRAMES, length - written), info.channels), dtype=dtype)
            while written < length:
                sink.write(silence[:length - written])
                written += min(silence.shape[0], length - written)


def streamed_true_peak(path: Path, sample_rate_hz: int) -> float:
    """A file's true peak (linear), read in overlapping blocks: each frame is evaluated in the block whose
    interior holds its whole interpolator window."""
    from .dsp.truepeak import INTERPOLATOR_HALF_TAPS, true_peak_envelope

    half, peak = INTERPOLATOR_HALF_TAPS, 0.0
    with soundfile.SoundFile(str(path)) as source:
        frames, start = source.frames, 0
        for block in source.blocks(READ_BLOCK_FRAMES, overlap=2 * half, dtype="float32", always_2d=True):
            envelope = true_peak_envelope(block, sample_rate_hz)
            lo = 0 if start == 0 else half
            hi = block.shape[0] if start + block.shape[0] >= frames else block.shape[0] - half
            peak = max(peak, float(envelope[lo:hi].max(initial=0.0)))
            start += block.shape[0] - 2 * half
    return peak


def spliced_album(path: Path, p: AlbumExportParams, tracks: list[Path], lengths: list[int], frame_bytes: int,
                  tags: dict[str, str]) -> tuple[SplicedFile, str]:
    """The album file `write_sequence` then `tag_file` make, as the pieces it is spliced from, and its sha256.
    `path` receives its skeleton (the header and the tags around a hole where the data goes, sizes set) for
    the header's facts; the data itself is never written here."""
    from .wav import around_data, data_parts, set_data_size

    info = soundfile.info(str(tracks[0]))
    with sound_file_writer(path, p.sample_rate_hz, info.channels, info.subtype, LOSSLESS[p.format]):
        pass  # the header and an empty data chunk
    data_bytes = sum(lengths) * frame_bytes
    set_data_size(path, data_bytes)
    tag_file(path, p.format, tags)  # mutagen appends its chunk after the data
    head, tail = around_data(path, data_bytes)
    return SplicedFile(head, data_parts(tracks, lengths, frame_bytes), tail, f".{p.format}").measured()


def tracks_apart(spans: list[tuple[int, int]]) -> bool:
    """Whether no true-peak interpolator window spans two of the tracks at these spans of the album file."""
    from .dsp.truepeak import MIN_SEQUENCE_GAP_FRAMES

    return all(b[0] - a[1] >= MIN_SEQUENCE_GAP_FRAMES for a, b in zip(spans, spans[1:]))


def assembled_facts(path: Path, sample_rate_hz: int, frames: int, spans: list[tuple[int, int]],
                    sequences: list[dict[str, Any]], sha256: str | None = None) -> dict[str, Any]:
    """file_facts of a lossless album file from its tracks' own measurements, not a second pass over it.

    Integrated loudness and LRA come from the tracks' 100 ms energies placed on the file's block grid
    (`sequence_loudness`); the true peak is the tracks' own and their ringing into the silence between
    them, which is exact when `tracks_apart`; with shorter gaps the file is read. `sha256`: see stream_facts.
    """
    from .dsp.loudness import sequence_loudness
    from .dsp.truepeak import sequence_true_peak_dbtp

    facts = stream_facts(path, sha256)
    if tracks_apart(spans):
        peak_dbtp = sequence_true_peak_dbtp(spans, frames, [s["true_peak"] for s in sequences],
                                            [(s["ringing_before"], s["ringing_after"]) for s in sequences])
    else:
        peak = streamed_true_peak(path, sample_rate_hz)
        peak_dbtp = 20.0 * np.log10(peak) if peak > 0.0 else -np.inf
    integrated, lra = sequence_loudness([start for start, _ in spans], [s["segment_energies"] for s in sequences],
                                        frames, sample_rate_hz)
    facts.update(integrated_lufs=rounded(integrated), lra_lu=rounded(lra), true_peak_dbtp=rounded(peak_dbtp))
    return facts


@dataclass(frozen=True)
class AlbumExportInputs:
    exports: list[dict[str, Any]]
    """Per track, in order: the tagged node's file (a path, or its pieces) and facts."""
    finals: list[np.ndarray] | None = None
    """Lossy targets: the finals the album file is encoded from (encoding the decoded lossy files again
    would add a second generation of codec loss)."""


def pcm_file(track: Path | SplicedFile) -> Path:
    """A file holding a delivered track's format and samples, as the album file takes them: the track's file,
    or for a track kept as its pieces (a tagged WAV: `tagged.wav_pieces`) the untagged export its PCM is."""
    if isinstance(track, SplicedFile):
        (source,) = [path for path, _, _ in track.parts if path is not None]
        return source
    return Path(track)


def sequence_lengths(p: AlbumExportParams, track_frames: list[int]) -> list[int]:
    """Frames each track takes in the album file: the track, its gap (none after the last), and for a
    CUE sheet padding to a CD frame, so that every INDEX time is exact."""
    lengths = []
    for number, (track, frames) in enumerate(zip(p.tracks, track_frames), start=1):
        length = frames + (int(round(track.gap_s * p.sample_rate_hz)) if number < len(p.tracks) else 0)
        if p.cue_sheet:
            length = -(-length // CD_FRAME_SAMPLES) * CD_FRAME_SAMPLES
        lengths.append(length)
    return lengths


def lossy_album(finals: list[np.ndarray], lengths: list[int], p: AlbumExportParams,
                path: Path) -> dict[str, Any]:
    """A lossy album file, encoded from the finals in one stream (one generation of codec loss), block by
    block with each track's silence after it; facts from its decode, as for a lossy track."""
    from .dsp.pages import walk

    channels = finals[0].shape[1]

    def programme() -> Iterator[np.ndarray]:
        for final, length in zip(finals, lengths):
            yield from (block for _, block in walk(final, READ_BLOCK_FRAMES))
            for written in range(final.shape[0], length, READ_BLOCK_FRAMES):
                yield np.zeros((min(READ_BLOCK_FRAMES, length - written), channels), dtype=np.float32)

    decoded_path = scratch_file(".f32")
    try:
        decoded_album, peak_dbtp = encode_lossy(programme, channels, p.sample_rate_hz, p.format, path,
                                                p.ceiling_dbtp, decoded_path)
        tag_file(path, p.format, {"album": p.album_title, "artist": p.album_artist})
        return file_facts(path, decoded_album, peak_dbtp)
    finally:
        decoded_path.unlink(missing_ok=True)


@stage("album_export", "3")
def render_album_export(inputs: AlbumExportInputs, p: AlbumExportParams) -> dict[str, Any]:
    ext = f".{p.format}"
    stored = [exported["file"] for exported in inputs.exports]
    tracks = [pcm_file(file) for file in stored]
    files: dict[str, Blob | SplicedFile] = {}
    entries = []
    for number, (track, exported, file) in enumerate(zip(p.tracks, inputs.exports, stored), start=1):
        name = f"{track_file_stem(number, track.title)}{ext}"
        files[name] = file if isinstance(file, SplicedFile) else Blob(Path(file), ext)  # the stored track, passed on
        # measured once, by the export node
        entries.append({"path": name, "title": track.title, "track": number, **exported["facts"]})
    if is_lossy(p.format):  # the album is encoded from the finals
        track_frames = [final.shape[0] for final in inputs.finals or []]
    else:
        track_frames = [soundfile.info(str(path)).frames for path in tracks]
    lengths = sequence_lengths(p, track_frames)
    starts = [sum(lengths[:i]) for i in range(len(lengths))]
    album_name = f"{album_file_stem(p.album_title)}{ext}"
    album = scratch_file(ext)
    album_file: Blob | SplicedFile = Blob(album, ext)
    if is_lossy(p.format):
        facts = lossy_album(inputs.finals or [], lengths, p, album)
    else:
        spans = [(start, start + frames) for start, frames in zip(starts, track_frames)]
        sequences = [e["sequence"] for e in inputs.exports]
        tags = {"album": p.album_title, "artist": p.album_artist}
        frame_bytes = splice_frame_bytes(p, tracks, lengths)
        sha256 = None
        if frame_bytes and tracks_apart(spans):  # its facts need only its header: kept as its pieces
            album_file, sha256 = spliced_album(album, p, tracks, lengths, frame_bytes, tags)
        else:
            write_sequence(album, p, tracks, lengths)
            tag_file(album, p.format, tags)
        facts = assembled_facts(album, p.sample_rate_hz, sum(lengths), spans, sequences, sha256)
    files[album_name] = album_file
    entries.append({"path": album_name, "title": p.album_title, "track": None, **facts})
    manifest: dict[str, Any] = {"target": p.target, "files": entries}
    if p.cue_sheet:
        cue_name = f"{album_file_stem(p.album_title)}.cue"
        cue = cue_sheet(p, album_name, starts).encode()
        files[cue_name] = Blob(cue, ".cue")
        manifest["cue_sheet"] = {"path": cue_name, "sha256": hashlib.sha256(cue).hexdigest()}
    manifest_file = manifest_name(p.album_title)
    files[manifest_file] = Blob((json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode(), ".json")
    return {"files": files, "track_starts": starts, "manifest": manifest_file}
