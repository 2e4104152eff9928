"""Mastering chain and delivery targets with their presets."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from .base import SampleRate
from mixbuild.stages.delivery import Encoding, LoudnessTarget
from mixbuild.stages.params import Limiter, MasterStrip, TonalMatch


class Master(MasterStrip):
    """The mastering chain: broad EQ, glue compression, limiter, and how loudness is set."""

    limiter: Limiter = Field(default_factory=Limiter, description="The true-peak limiter before delivery.")
    album_loudness: Literal["album", "track"] = Field(
        default="album", description="album: one gain, relative levels kept; track: each to target."
    )
    tonal_match: TonalMatch | None = Field(
        default=None, description="Shelve each song toward the album's average tone; off if unset.")


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


class Target(LoudnessTarget, Encoding):
    """A delivery target: a preset whose fields the spec may override."""

    preset: Literal["streaming", "cd", "broadcast", "vinyl"] | None = Field(
        default=None, description="Start from these settings; the target's other fields override them.")
    sample_rate: SampleRate | None = Field(default=None, description="None: the album's rate.")
    tags: dict[str, str] = Field(default_factory=dict, description="Extra tags (comment, genre, ...).")

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        """Fill fields the spec leaves out from the named preset."""
        if isinstance(data, dict) and data.get("preset") in PRESETS:
            return {**PRESETS[data["preset"]], **data}
        return data
