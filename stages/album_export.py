"""Stage `album_export` (album/export/<target>): the deliverables of one target.

Per song `NN - Title.ext`, a sequenced album file with the songs' gaps, a CUE sheet for CD
targets, and `manifest.json` with each audio file's title, track number (null for the album file),
digest, format and measured loudness, and the CUE sheet's digest.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from .export import decoded, encode_lossy, file_facts, tag_file
from .formats import CUE_FILE_TYPES, LOSSLESS, is_lossy
from .delivery import FormatName
from .params import SpecModel
from .registry import Blob, stage

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


SAFE_NAME_BYTES = 120
"""UTF-8 bytes of a title in a file name: with `NN - `, the extension and a temp-file suffix it stays
well under the 255-byte name limit of common file systems."""


def safe_name(text: str) -> str:
    """A file-name-safe version of a title: no separators, control characters or leading dots,
    at most SAFE_NAME_BYTES bytes of UTF-8 (cut on a character boundary)."""
    cleaned = re.sub(r'[\x00-\x1f\x7f/\\:*?"<>|]+', "_", text).strip().lstrip(".").strip()
    cut = cleaned.encode("utf-8")[:SAFE_NAME_BYTES].decode("utf-8", errors="ignore").strip()
    return cut or "untitled"


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


def album_facts(data: bytes, album: np.ndarray, sample_rate_hz: int, spans: list[tuple[int, int]],
                track_peaks_dbtp: list[float | None]) -> dict[str, Any]:
    """file_facts of the album file from the samples just written (lossless: what it decodes to).

    Its true peak follows from the tracks' own (measured on the same samples) plus the ringing at each
    track's edges, when the gaps keep every interpolator window on one track; else it is measured.
    """
    from .dsp.truepeak import MIN_SEQUENCE_GAP_FRAMES, sequence_true_peak_dbtp

    samples = decoded(album)
    gaps_ok = all(b[0] - a[1] >= MIN_SEQUENCE_GAP_FRAMES for a, b in zip(spans, spans[1:]))
    peak = None
    if gaps_ok:
        peak = sequence_true_peak_dbtp(samples, sample_rate_hz, spans,
                                       [-np.inf if db is None else db for db in track_peaks_dbtp])
    return file_facts(data, samples, peak)


@dataclass(frozen=True)
class AlbumExportInputs:
    exports: list[dict[str, Any]]
    """Per track, in order: the export node's file and facts."""
    finals: list[np.ndarray] | None = None
    """Lossy targets: the finals the album file is encoded from (encoding the decoded lossy files again
    would add a second generation of codec loss)."""


@stage("album_export", "1")
def render_album_export(inputs: AlbumExportInputs, p: AlbumExportParams) -> dict[str, Any]:
    ext = f".{p.format}"
    lossy = is_lossy(p.format)
    exports, finals = inputs.exports, inputs.finals or []
    files: dict[str, bytes] = {}
    pieces, starts, entries, position = [], [], [], 0
    spans = []
    for number, (track, exported) in enumerate(zip(p.tracks, exports), start=1):
        data = Path(exported["file"]).read_bytes()
        name = f"{number:02d} - {safe_name(track.title)}{ext}"
        files[name] = data
        # measured once, by the export node
        entries.append({"path": name, "title": track.title, "track": number, **exported["facts"]})
        if lossy:
            audio = np.asarray(finals[number - 1], dtype=np.float32)
        else:
            info = soundfile.info(io.BytesIO(data))
            dtype = "float32" if "FLOAT" in info.subtype else "int32"
            audio, _ = soundfile.read(io.BytesIO(data), dtype=dtype, always_2d=True)
        gap = int(round(track.gap_s * p.sample_rate_hz)) if number < len(p.tracks) else 0
        length = audio.shape[0] + gap
        if p.cue_sheet:  # every track starts on a CD frame, so INDEX times are exact
            length = -(-length // CD_FRAME_SAMPLES) * CD_FRAME_SAMPLES
        starts.append(position)
        spans.append((position, position + audio.shape[0]))
        pieces.append(np.concatenate([audio, np.zeros((length - audio.shape[0], audio.shape[1]), audio.dtype)]))
        position += length
    album_name = f"{safe_name(p.album_title)}{ext}"
    album = np.concatenate(pieces)
    del pieces
    with tempfile.TemporaryDirectory(prefix="mixbuild-album-") as tmp:
        path = Path(tmp) / album_name
        if lossy:
            decoded_album, peak_dbtp = encode_lossy(album, p.sample_rate_hz, p.format, path, p.ceiling_dbtp)
        else:
            soundfile.write(str(path), album, p.sample_rate_hz, format=LOSSLESS[p.format], subtype=info.subtype)
        tag_file(path, p.format, {"album": p.album_title, "artist": p.album_artist})
        files[album_name] = path.read_bytes()
    facts = (file_facts(files[album_name], decoded_album, peak_dbtp) if lossy else
             album_facts(files[album_name], album, p.sample_rate_hz, spans, [e["true_peak_dbtp"] for e in entries]))
    entries.append({"path": album_name, "title": p.album_title, "track": None, **facts})
    manifest: dict[str, Any] = {"target": p.target, "files": entries}
    if p.cue_sheet:
        cue_name = f"{safe_name(p.album_title)}.cue"
        files[cue_name] = cue_sheet(p, album_name, starts).encode()
        manifest["cue_sheet"] = {"path": cue_name, "sha256": hashlib.sha256(files[cue_name]).hexdigest()}
    files["manifest.json"] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    return {"files": {name: Blob(data, Path(name).suffix) for name, data in files.items()},
            "track_starts": starts}
