"""Mastering chain and delivery targets with their presets."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from .base import STANDARD_SAMPLE_RATES_HZ, SpecModel
from stages.formats import LOSSLESS, LOSSY
from stages.params import Compressor, EqBand, Limiter, TonalMatch


class Master(SpecModel):
    """The mastering chain: broad EQ, glue compression, limiter, and how loudness is set."""

    eq: list[EqBand] = Field(default_factory=list, max_length=16)
    compressor: Compressor | None = None
    limiter: Limiter = Field(default_factory=Limiter)
    album_loudness: Literal["album", "track"] = Field(
        default="album", description="album: one gain, relative levels kept; track: each to target."
    )
    tonal_match: TonalMatch | None = None


PRESETS: dict[str, dict[str, Any]] = {
    "streaming": {"target_lufs": -14.0, "ceiling_dbtp": -1.0, "format": "wav",
                  "sample_rate": 48000, "bit_depth": 24, "dither": "tpdf"},
    "cd": {"target_lufs": -14.0, "ceiling_dbtp": -1.0, "format": "wav",
           "sample_rate": 44100, "bit_depth": 16, "dither": "tpdf"},
    "broadcast": {"target_lufs": -23.0, "ceiling_dbtp": -1.0, "format": "wav",
                  "sample_rate": 48000, "bit_depth": 24, "dither": "tpdf"},
    "vinyl": {"target_lufs": None, "ceiling_dbtp": -3.0, "format": "wav",
              "sample_rate": 96000, "bit_depth": 24, "dither": "tpdf", "mono_bass_hz": 150.0},
}
"""Named delivery presets; a target's own fields override them (EBU R128 for broadcast)."""

FORMATS = sorted([*LOSSLESS, *LOSSY])
"""Delivery formats by spec name: WAV, FLAC, AIFF, and the lossy codecs (ogg, opus, mp3) libsndfile has here."""

FormatName = Literal[tuple(FORMATS)]  # type: ignore[valid-type]
SampleRate = Literal[STANDARD_SAMPLE_RATES_HZ]  # type: ignore[valid-type]


class Target(SpecModel):
    """A delivery target: a preset whose fields the spec may override."""

    preset: Literal["streaming", "cd", "broadcast", "vinyl"] | None = None
    target_lufs: float | None = Field(default=None, ge=-40, le=-5, description="None: no loudness push.")
    ceiling_dbtp: float = Field(default=-1.0, ge=-20, le=0)
    format: FormatName = "wav"
    sample_rate: SampleRate | None = Field(default=None, description="None: the album's rate.")
    bit_depth: Literal[16, 24, "32f"] = Field(default=24, description="Lossless formats; lossy ones store none.")
    dither: Literal["tpdf", "none"] = Field(default="tpdf", description="When quantising to 16 or 24 bits.")
    mono_bass_hz: float | None = Field(default=None, ge=40, le=400, description="Vinyl: mono below.")
    tags: dict[str, str] = Field(default_factory=dict, description="Extra tags (comment, genre, ...).")

    @model_validator(mode="after")
    def _format_holds_depth(self) -> "Target":
        if self.format == "flac" and self.bit_depth == "32f":
            raise ValueError("flac cannot hold 32-bit float samples: use bit_depth 16 or 24, or wav/aiff")
        return self

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        """Fill fields the spec leaves out from the named preset."""
        if isinstance(data, dict) and data.get("preset") in PRESETS:
            return {**PRESETS[data["preset"]], **data}
        return data
