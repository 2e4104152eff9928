"""Delivery parameters, declared once for a spec's target and the stages that honour it.

`LoudnessTarget` is what the `final` stage meets (loudness, true-peak ceiling, vinyl mono bass);
`Encoding` is what the `export` stage writes (format, bit depth, dither). A spec's `Target` inherits both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from .formats import FORMATS
from .params import SpecModel

if TYPE_CHECKING:  # the names are this platform's libsndfile's, known only at run time
    FormatName = str
else:
    FormatName = Literal[tuple(FORMATS)]
BitDepth = Literal[16, 24, "32f"]


class LoudnessTarget(SpecModel):
    """How loud a delivery is and how high its peaks may reach."""

    target_lufs: float | None = Field(default=None, ge=-40, le=-5, description="None: no loudness push.")
    ceiling_dbtp: float = Field(default=-1.0, ge=-20, le=0, description="Highest true peak delivered, dBTP.")
    mono_bass_hz: float | None = Field(default=None, ge=40, le=400, description="Vinyl: mono below.")


class Encoding(SpecModel):
    """How a delivery file is written."""

    format: FormatName = Field(default="wav", description="wav, flac, aiff, or a lossy codec (ogg, opus, mp3).")
    bit_depth: BitDepth = Field(default=24, description="Lossless formats; lossy ones store none.")
    dither: Literal["tpdf", "none"] = Field(default="tpdf", description="When quantising to 16 or 24 bits.")

    @model_validator(mode="after")
    def _format_holds_depth(self) -> "Encoding":
        if self.format == "flac" and self.bit_depth == "32f":
            raise ValueError("flac cannot hold 32-bit float samples: use bit_depth 16 or 24, or wav/aiff")
        return self
