"""The base every spec model shares: unknown keys are errors, values are immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""Stem, bus, song-id and target names: they appear in node ids and file names."""

STANDARD_SAMPLE_RATES_HZ = (44100, 48000, 88200, 96000, 176400, 192000)
"""Render and delivery rates a spec may name (stems themselves may be at any rate)."""


class SpecModel(BaseModel):
    """A spec model: a typo is an error (extra="forbid"), fields never change after load."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)
