"""A song's signal flow as the compiler needs it: which stems play, which buses are live, what feeds what
(each stem feed from the stem's start frame in song time), and how long the song renders (the last stem's
end plus the longest effect tail)."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

import soundfile

from mixbuild.stages.mixing import MixInput, start_frame
from mixbuild.stages.tails import delay_tail_s, reverb_tail_s

from .specs import Bus, Song, Stem
from .specs.checks import bus_edges

MIN_TAIL_S = 0.5
"""Default tail when a song has no reverb or delay: room for compressor release and limiter look-ahead."""


@dataclass(frozen=True)
class Routing:
    """Playing stems, live buses in topological order, and each bus's (or the mixdown's) feeds."""

    song_id: str
    stems: dict[str, Stem]
    live_buses: list[str]
    feeds: dict[str | None, list[tuple[str, MixInput]]]
    prefader: set[str]

    @classmethod
    def of(cls, song: Song, sample_rate_hz: int) -> "Routing":
        """Mute and solo applied; a bus is live when a playing stem reaches it. A stem's feeds start at its
        start frame at the render rate (its output spans the stem only); a bus's at 0 (it spans the song)."""
        soloed = any(s.solo for s in song.stems.values())
        stems = {n: s for n, s in song.stems.items() if not s.mute and (s.solo or not soloed)}
        buses = {n: b for n, b in song.buses.items() if not b.mute}
        feeds: dict[str | None, list[tuple[str, MixInput]]] = defaultdict(list)
        prefader: set[str] = set()
        channels: list[tuple[str, dict[str, Stem] | dict[str, Bus]]] = [("stem", stems), ("bus", buses)]
        for kind, group in channels:
            for name, ch in group.items():
                node_id = f"{song.id}/{kind}/{name}"
                stem = isinstance(ch, Stem)
                if stem and any(send.pre_fader and bus in buses for bus, send in ch.sends.items()):
                    prefader.add(name)
                # a stem's output: its post-fader signal, and its pre-fader one if a send taps it; a mono
                # stem's signals are placed by its pan and width in the sums
                own = MixInput(start_frame=start_frame(ch.offset_s, sample_rate_hz), pan=ch.pan, width=ch.width,
                               signals=2 if name in prefader else 1) if isinstance(ch, Stem) else MixInput()
                if ch.output is None or ch.output in buses:
                    feeds[ch.output].append((node_id, own))
                for bus, send in sorted(ch.sends.items()):
                    if bus in buses:
                        tap: Literal["post", "pre"] = "pre" if stem and send.pre_fader else "post"
                        feeds[bus].append((node_id, MixInput(**{**own.model_dump(), "tap": tap,
                                                                "level_db": send.level_db})))
        return cls(str(song.id), stems, _live_buses(buses, feeds, bus_edges(song)), feeds, prefader)

    def feeds_of(self, bus: str | None) -> tuple[tuple[str, ...], list[MixInput]]:
        """(source node ids, their taps) of a bus (None: the mixdown), live sources only, sorted by id."""
        live = {f"{self.song_id}/stem/{s}" for s in self.stems} | {f"{self.song_id}/bus/{b}" for b in self.live_buses}
        ins = sorted((i for i in self.feeds[bus] if i[0] in live), key=lambda item: item[0])
        return tuple(i for i, _ in ins), [m for _, m in ins]


def _live_buses(buses: dict[str, Bus], feeds: dict[str | None, list[tuple[str, MixInput]]],
                all_edges: dict[str, list[str]]) -> list[str]:
    """Buses that receive something, in topological order (sources before the buses they feed)."""
    edges = {n: [t for t in ts if t in buses] for n, ts in all_edges.items() if n in buses}
    fed = {name for name in buses if any("/stem/" in src for src, _ in feeds[name])}
    frontier = list(fed)
    while frontier:  # a bus is live when a stem or a live bus feeds it
        for target in edges[frontier.pop()]:
            if target not in fed:
                fed.add(target)
                frontier.append(target)
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order or name in visiting:
            return
        visiting.add(name)
        for src, targets in edges.items():
            if name in targets:
                visit(src)
        order.append(name)

    for name in sorted(fed):
        visit(name)
    return [n for n in order if n in fed]


def song_frames(song: Song, routing: Routing, sample_rate_hz: int) -> int:
    """Song length in frames: the last stem's end plus the tail (`tail_s`, else the longest effect tail)."""
    end_s = max((st.offset_s + _duration_s(st.file) for st in routing.stems.values()), default=0.0)
    tail_s = song.tail_s
    if tail_s is None:
        tails = [MIN_TAIL_S]
        for name in routing.live_buses:
            bus = song.buses[name]
            if bus.reverb:
                tails.append(reverb_tail_s(bus.reverb.decay_s, bus.reverb.predelay_ms))
            if bus.delay:
                tails.append(delay_tail_s(bus.delay.spacing_ms(song.tempo_bpm), bus.delay.feedback))
        tail_s = max(tails)
    return max(1, math.ceil((end_s + tail_s) * sample_rate_hz))


def _duration_s(path: str) -> float:
    info = soundfile.info(path)
    return info.frames / info.samplerate
