"""Names and rates every spec model shares; the model base itself lives with the stage params."""

from __future__ import annotations

from typing import Literal

from mixbuild.stages.params import SpecModel

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""Stem, bus, song-id and target names: they appear in node ids and file names."""

SampleRate = Literal[44100, 48000, 88200, 96000, 176400, 192000]
"""Render and delivery rates a spec may name (stems themselves may be at any rate)."""

__all__ = ["NAME_PATTERN", "SampleRate", "SpecModel"]
