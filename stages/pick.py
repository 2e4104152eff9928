"""Stage `pick` (<song>/tonal, album/gain/<target>): one consumer's share of an album-wide decision.

A master needs only its own song's tonal move and a final only its own target's album gain; reading them
through a node of their own means a change to another song's or target's decision stops here (its bytes
are unchanged), instead of re-mastering every song or re-finishing every target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .params import SpecModel
from .registry import stage


class PickParams(SpecModel):
    path: list[str]
    """Keys from the decision's root to the value picked; a missing key picks an empty decision ({})."""


@dataclass(frozen=True)
class PickInputs:
    decision: dict[str, Any]


@stage("pick", "1")
def render_pick(inputs: PickInputs, p: PickParams) -> dict[str, Any]:
    value: Any = inputs.decision
    for key in p.path:
        value = value.get(key, {}) if isinstance(value, dict) else {}
    return {"value": value}
