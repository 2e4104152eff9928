"""Compile a loaded album into the DAG of DESIGN.md: stable node ids, params, inputs in a fixed order.

    <song>/stem/<stem> -> <song>/bus/<bus> -> <song>/mixdown -> album/tonal -> <song>/tonal
      -> <song>/master -> album/loudness -> album/gain/<target> -> <song>/final/<target>
      -> <song>/export/<target> -> album/export/<target>

`album/tonal` takes the tonal decision from the mixdowns; `album/loudness` takes the album-gain
decision from the masters (the gain must see the mastered signal, so it cannot precede the master).
`<song>/tonal` and `album/gain/<target>` pick one consumer's share of those decisions, so that early
cutoff holds per song and per target.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass

import soundfile

from stages.album_export import AlbumExportParams, TrackInfo
from stages.album_loudness import AlbumLoudnessParams
from stages.album_tonal import AlbumTonalParams
from stages.bus import BusParams, MixdownParams
from stages.pick import PickParams
from stages.export import ExportParams
from stages.final import FinalParams
from stages.formats import is_lossy
from stages.master import MasterParams
from stages.mixing import MixInput
from stages.params import SpecModel
from stages.stem import StemParams
from stages.tails import beats_to_ms, delay_tail_s, reverb_tail_s

from .specs import Album, Song, Target
from .specs.checks import bus_edges

SOURCE_PREFIX = "file:"
MIN_TAIL_S = 0.5
"""Default tail when a song has no reverb or delay: room for compressor release and limiter look-ahead."""


@dataclass(frozen=True)
class Node:
    """One unit of work: its stable id, stage kind, own params, and inputs (node ids or `file:` sources)."""

    id: str
    kind: str
    params: SpecModel
    inputs: tuple[str, ...]


def compile_album(album: Album, targets: list[str] | None = None) -> dict[str, Node]:
    """All nodes of the album in topological order (dict order), optionally for some targets only."""
    nodes: dict[str, Node] = {}
    chosen = {name: t for name, t in album.targets.items() if not targets or name in targets}
    for song in album.songs:
        _compile_mix(album, song, nodes)
    tonal = [s for s in album.songs if album.master_for(s).tonal_match is not None]
    _add(nodes, "album/tonal", "album_tonal", AlbumTonalParams(
        sample_rate_hz=album.sample_rate, songs=[s.id for s in tonal],
        tonal_match={s.id: album.master_for(s).tonal_match for s in tonal}),
        [f"{s.id}/mixdown" for s in tonal])
    for song in album.songs:
        master = album.master_for(song)
        decision = []
        if master.tonal_match is not None:
            decision = [f"{song.id}/tonal"]
            _add(nodes, decision[0], "pick", PickParams(path=["tonal", song.id]), ["album/tonal"])
        _add(nodes, f"{song.id}/master", "master", MasterParams(
            sample_rate_hz=album.sample_rate, song=song.id, eq=master.eq, compressor=master.compressor),
            [f"{song.id}/mixdown", *decision])
    album_mode = [s for s in album.songs if album.master_for(s).album_loudness == "album"]
    if album_mode and any(t.target_lufs is not None for t in chosen.values()):
        _add(nodes, "album/loudness", "album_loudness", AlbumLoudnessParams(
            sample_rate_hz=album.sample_rate, songs=[s.id for s in album_mode],
            target_lufs={name: t.target_lufs for name, t in chosen.items()}),
            [f"{s.id}/master" for s in album_mode])
        for name, target in chosen.items():
            if target.target_lufs is not None:
                _add(nodes, f"album/gain/{name}", "pick", PickParams(path=["gain_db", name]), ["album/loudness"])
    for name, target in chosen.items():
        lossy = is_lossy(target.format)  # the album file is encoded from the finals: one generation of loss
        for number, song in enumerate(album.songs, start=1):
            _compile_delivery(album, song, number, name, target, nodes)
        _add(nodes, f"album/export/{name}", "album_export", AlbumExportParams(
            target=name, format=target.format, sample_rate_hz=album.target_rate(target),
            album_title=album.title, album_artist=album.artist, catalog=album.catalog,
            tracks=[TrackInfo(title=s.title, performer=s.artist or album.artist, isrc=s.isrc, gap_s=s.gap_s)
                    for s in album.songs],
            ceiling_dbtp=min(_ceiling_dbtp(album, s, target) for s in album.songs),
            cue_sheet=not lossy and (
                target.preset == "cd" or (album.target_rate(target) == 44100 and target.bit_depth == 16))),
            [f"{s.id}/export/{name}" for s in album.songs]
            + ([f"{s.id}/final/{name}" for s in album.songs] if lossy else []))
    return nodes


def _add(nodes: dict[str, Node], node_id: str, kind: str, params: SpecModel, inputs) -> None:
    nodes[node_id] = Node(node_id, kind, params, tuple(inputs))


def _ceiling_dbtp(album: Album, song: Song, target: Target) -> float:
    """The true-peak ceiling a song's delivery holds: the lower of the target's and its master limiter's."""
    return min(target.ceiling_dbtp, album.master_for(song).limiter.ceiling_dbtp)


def _compile_delivery(album: Album, song: Song, number: int, name: str, target: Target, nodes) -> None:
    master = album.master_for(song)
    mode = master.album_loudness
    inputs = [f"{song.id}/master"]
    ceiling_dbtp = _ceiling_dbtp(album, song, target)
    if mode == "album" and target.target_lufs is not None:
        inputs.append(f"album/gain/{name}")
    _add(nodes, f"{song.id}/final/{name}", "final", FinalParams(
        sample_rate_hz=album.sample_rate, target=name, target_rate_hz=album.target_rate(target),
        target_lufs=target.target_lufs, ceiling_dbtp=ceiling_dbtp,
        limiter=master.limiter, mono_bass_hz=target.mono_bass_hz, loudness_mode=mode), inputs)
    tags = {"title": song.title, "artist": song.artist or album.artist, "album": album.title,
            "tracknumber": f"{number}/{len(album.songs)}", **({"isrc": song.isrc} if song.isrc else {}),
            **target.tags}
    export_id = f"{song.id}/export/{name}"
    _add(nodes, export_id, "export", ExportParams(
        sample_rate_hz=album.target_rate(target), format=target.format, bit_depth=target.bit_depth,
        dither=target.dither, dither_seed=stable_seed(export_id), ceiling_dbtp=ceiling_dbtp,
        tags={k: v for k, v in tags.items() if v}),
        [f"{song.id}/final/{name}"])


def _compile_mix(album: Album, song: Song, nodes: dict[str, Node]) -> None:
    """Stem, bus and mixdown nodes of one song; muted, un-soloed and unreachable parts are left out."""
    sr = album.sample_rate
    soloed = any(s.solo for s in song.stems.values())
    stems = {n: s for n, s in song.stems.items() if not s.mute and (s.solo or not soloed)}
    buses = {n: b for n, b in song.buses.items() if not b.mute}
    feeds: dict[str | None, list[tuple[str, MixInput]]] = defaultdict(list)
    prefader: set[str] = set()
    for kind, channels in (("stem", stems), ("bus", buses)):
        for name, ch in channels.items():
            node_id = f"{song.id}/{kind}/{name}"
            if ch.output is None or ch.output in buses:
                feeds[ch.output].append((node_id, MixInput()))
            for bus, send in sorted(ch.sends.items()):
                if bus in buses:
                    tap = "pre" if kind == "stem" and send.pre_fader else "post"
                    feeds[bus].append((node_id, MixInput(tap=tap, level_db=send.level_db)))
                    if tap == "pre":
                        prefader.add(name)
    live_buses = _live_buses(song, buses, feeds)
    frames = song_frames(song, stems, live_buses, sr)
    for name, stem in stems.items():
        _add(nodes, f"{song.id}/stem/{name}", "stem", StemParams(
            sample_rate_hz=sr, frames=frames, offset_s=stem.offset_s, gain_db=stem.gain_db, pan=stem.pan,
            width=stem.width, polarity_invert=stem.polarity_invert, eq=stem.eq, compressor=stem.compressor,
            automation=stem.automation, prefader_tap=name in prefader), [SOURCE_PREFIX + stem.file])
    live = set(nodes) | {f"{song.id}/bus/{b}" for b in live_buses}
    for name in live_buses:
        bus = buses[name]
        node_id = f"{song.id}/bus/{name}"
        ins = sorted((i for i in feeds[name] if i[0] in live), key=lambda item: item[0])
        _add(nodes, node_id, "bus", BusParams(
            sample_rate_hz=sr, frames=frames, inputs=[m for _, m in ins], gain_db=bus.gain_db, pan=bus.pan,
            width=bus.width, eq=bus.eq, compressor=bus.compressor, delay=bus.delay, reverb=bus.reverb,
            tempo_bpm=song.tempo_bpm, reverb_seed=stable_seed(node_id)), [i for i, _ in ins])
    ins = sorted((i for i in feeds[None] if i[0] in live), key=lambda item: item[0])
    _add(nodes, f"{song.id}/mixdown", "mixdown",
         MixdownParams(sample_rate_hz=sr, frames=frames, inputs=[m for _, m in ins]), [i for i, _ in ins])


def _live_buses(song: Song, buses: dict, feeds) -> list[str]:
    """Buses that receive something, in topological order (sources before the buses they feed)."""
    edges = {n: [t for t in ts if t in buses] for n, ts in bus_edges(song).items() if n in buses}
    fed = {name for name in buses if any("/stem/" in src for src, _ in feeds[name])}
    changed = True
    while changed:  # a bus is live when a stem or a live bus feeds it
        changed = False
        for name, targets in edges.items():
            if name in fed:
                for t in targets:
                    if t not in fed:
                        fed.add(t)
                        changed = True
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


def song_frames(song: Song, stems: dict, buses: list[str], sample_rate_hz: int) -> int:
    """Song length in frames: the last stem's end plus the tail (`tail_s`, else the longest effect tail)."""
    end_s = max((st.offset_s + _duration_s(st.file) for st in stems.values()), default=0.0)
    tail_s = song.tail_s
    if tail_s is None:
        tails = [MIN_TAIL_S]
        for name in buses:
            bus = song.buses[name]
            if bus.reverb:
                tails.append(reverb_tail_s(bus.reverb.decay_s, bus.reverb.predelay_ms))
            if bus.delay:
                time_ms = bus.delay.time_ms or beats_to_ms(bus.delay.beats, song.tempo_bpm)
                tails.append(delay_tail_s(time_ms, bus.delay.feedback))
        tail_s = max(tails)
    return max(1, math.ceil((end_s + tail_s) * sample_rate_hz))


def _duration_s(path: str) -> float:
    info = soundfile.info(path)
    return info.frames / info.samplerate


def stable_seed(text: str) -> int:
    """A seed that depends only on `text` (a node id), the same on every machine and run."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
