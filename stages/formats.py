"""Delivery formats: lossless containers we write PCM into, and the lossy codecs libsndfile has here.

Lossy files are encoded once from the float final (no dither, no bit depth) and measured from a decode.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import soundfile

LOSSLESS = {"wav": "WAV", "flac": "FLAC", "aiff": "AIFF"}
"""Spec name -> libsndfile container, for the formats we quantise, tag (mutagen) and sequence."""

_LOSSY_CODECS = {"ogg": ("OGG", "VORBIS"), "opus": ("OGG", "OPUS"), "mp3": ("MP3", "MPEG_LAYER_III")}
LOSSY = {name: codec for name, codec in _LOSSY_CODECS.items()
         if codec[0] in soundfile.available_formats() and codec[1] in soundfile.available_subtypes(codec[0])}
"""Spec name -> (container, subtype) of the lossy codecs this platform's libsndfile encodes."""

FORMATS = sorted([*LOSSLESS, *LOSSY])
"""Delivery formats by spec name: the lossless ones and the lossy codecs libsndfile has here."""

LOSSY_RATES_HZ = {"opus": (48000,), "mp3": (32000, 44100, 48000)}
"""Rates a lossy codec delivers at (Opus codes at 48 kHz; MPEG-1 Layer III tops out at 48 kHz)."""

CUE_FILE_TYPES = {"wav": "WAVE", "flac": "WAVE", "aiff": "AIFF", "mp3": "MP3"}
"""The CUE `FILE` type of an album file: WAVE stands for any decoded PCM stream (FLAC included)."""

OGG_STREAM_SERIAL = 0x6D697862  # "mixb"
"""libsndfile gives each Ogg stream a random serial number; we fix it so equal audio gives equal bytes."""


def is_lossy(fmt: str) -> bool:
    return fmt in _LOSSY_CODECS


def fixed_ogg_serial(data: bytes) -> bytes:
    """The same Ogg file with every page's stream serial set to OGG_STREAM_SERIAL (CRCs recomputed)."""
    from mutagen.ogg import OggPage

    source, pages = io.BytesIO(data), []
    while source.tell() < len(data):
        page = OggPage(source)
        page.serial = OGG_STREAM_SERIAL
        pages.append(page.write())
    return b"".join(pages)


@contextmanager
def sound_file_writer(path: Path, sample_rate_hz: int, channels: int, subtype: str,
                      container: str) -> Iterator[soundfile.SoundFile]:
    """A SoundFile writing `path` through a Python file object, so that its close does not fsync the file
    (given a path, libsndfile's sf_write_sync does: a third of a 24-bit WAV export's time here). The bytes
    are the same; a kernel's files are cache entries, verified rather than synced, and a delivery syncs what
    it delivers."""
    with path.open("w+b") as fh, soundfile.SoundFile(fh, "w", sample_rate_hz, channels, subtype,
                                                     format=container) as sink:
        yield sink
