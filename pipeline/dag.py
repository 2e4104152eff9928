"""Compile a loaded album into its DAG: stable node ids, each node's params and named inputs.

    <song>/stem/<stem> -> <song>/bus/<bus> -> <song>/mixdown -> album/tonal -> <song>/tonal
      -> <song>/master -> <song>/loudness -> album/loudness -> album/gain/<target> -> <song>/final/<target>
      -> <song>/export/<target> -> <song>/tagged/<target> -> album/export/<target>

`album/tonal` takes the tonal decision from the mixdowns; `album/loudness` takes the album-gain
decision from the masters' block powers (the gain must see the mastered signal, so it cannot precede the
master; `<song>/loudness` measures each master once, so a tweak re-measures its own song only).
`<song>/tonal` and `album/gain/<target>` pick one consumer's share of those decisions, so that early
cutoff holds per song and per target. A spec's strip reaches its stage's params through `fields_of`:
the spec model and the params model inherit the same strip, so no field is copied by hand.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Union

from mixbuild.stages.album_export import AlbumExportParams, TrackInfo
from mixbuild.stages.album_loudness import AlbumLoudnessParams
from mixbuild.stages.album_tonal import AlbumTonalParams
from mixbuild.stages.bus import BusParams, MixdownParams
from mixbuild.stages.delivery import Encoding, LoudnessTarget
from mixbuild.stages.export import ExportParams
from mixbuild.stages.tagged import TaggedParams
from mixbuild.stages.final import FinalParams
from mixbuild.stages.formats import is_lossy
from mixbuild.stages.master import MasterParams
from mixbuild.stages.params import BusStrip, MasterStrip, SpecModel, StemStrip, fields_of
from mixbuild.stages.pick import PickParams
from mixbuild.stages.registry import load_kinds
from mixbuild.stages.song_loudness import SongLoudnessParams
from mixbuild.stages.stem import StemParams

from .routing import Routing, song_frames
from .specs import Album, Song, Target

SOURCE_PREFIX = "file:"
"""An input naming a source file rather than a node: `file:/abs/path.wav`."""

Wire = Union[str, tuple[str, ...]]
"""One named input: a node id (or `file:` source), or a list of them for a list input."""


@dataclass(frozen=True)
class Node:
    """One unit of work: its stable id, stage kind, own params, and named inputs."""

    id: str
    kind: str
    params: SpecModel
    inputs: dict[str, Wire]

    def upstream(self) -> list[str]:
        """Every node id or `file:` source this node reads, in input order."""
        return [ref for wire in self.inputs.values() for ref in ((wire,) if isinstance(wire, str) else wire)]


class CompileError(TypeError):
    """A node that does not match its stage kind's declaration: a bug in compile, caught before any render."""


def compile_album(album: Album, targets: list[str] | None = None) -> dict[str, Node]:
    """All nodes of the album in topological order (dict order), optionally for some targets only."""
    nodes: dict[str, Node] = {}
    chosen = {name: t for name, t in album.targets.items() if not targets or name in targets}
    for song in album.songs:
        _compile_mix(album, song, nodes)
    _compile_masters(album, nodes)
    _compile_album_gain(album, chosen, nodes)
    for name, target in chosen.items():
        for number, song in enumerate(album.songs, start=1):
            _compile_delivery(album, song, number, name, target, nodes)
        _compile_album_export(album, name, target, nodes)
    return nodes


def _add(nodes: dict[str, Node], node_id: str, kind: str, params: SpecModel, **inputs: Wire | None) -> None:
    """Add a node, checked against its kind's declared params model and named inputs (None: not wired)."""
    declared = load_kinds()[kind]
    if type(params) is not declared.params:
        raise CompileError(f"{node_id}: kind {kind} takes {declared.params.__name__}, not {type(params).__name__}")
    wired = {name for name, wire in inputs.items() if wire is not None}
    if not set(declared.required_inputs()) <= wired <= set(declared.input_names()):
        raise CompileError(f"{node_id}: kind {kind} takes inputs {declared.input_names()} "
                           f"(required {declared.required_inputs()}), got {sorted(wired)}")
    nodes[node_id] = Node(node_id, kind, params, {name: wire for name in declared.input_names()
                                                  if (wire := inputs.get(name)) is not None})


def _song_id(song: Song) -> str:
    """A loaded song's id (load gives every song one; a song's own spec may leave it out)."""
    if song.id is None:
        raise CompileError(f"song {song.title!r} has no id: compile an album from load()")
    return song.id


def _compile_mix(album: Album, song: Song, nodes: dict[str, Node]) -> None:
    """Stem, bus and mixdown nodes of one song; muted, un-soloed and unreachable parts are left out.

    A stem's output spans the stem; buses and the mixdown place each stem feed at its start frame (their
    taps) and sum into the song's length (`frames`, their param only)."""
    sr = album.sample_rate
    routing = Routing.of(song, sr)
    frames = song_frames(song, routing, sr)  # the song's length is the sums' param only: a stem spans itself
    for name, stem in routing.stems.items():
        _add(nodes, f"{song.id}/stem/{name}", "stem",
             StemParams(sample_rate_hz=sr, prefader_tap=name in routing.prefader, **fields_of(stem, StemStrip)),
             source=SOURCE_PREFIX + stem.file,
             **({} if stem.right_file is None else {"right": SOURCE_PREFIX + stem.right_file}))
    for name in routing.live_buses:
        node_id = f"{song.id}/bus/{name}"
        sources, taps = routing.feeds_of(name)
        _add(nodes, node_id, "bus",
             BusParams(sample_rate_hz=sr, frames=frames, taps=taps, tempo_bpm=song.tempo_bpm,
                       reverb_seed=stable_seed(node_id), **fields_of(song.buses[name], BusStrip)),
             sources=sources)
    sources, taps = routing.feeds_of(None)
    _add(nodes, f"{song.id}/mixdown", "mixdown", MixdownParams(sample_rate_hz=sr, frames=frames, taps=taps),
         sources=sources)


def _compile_masters(album: Album, nodes: dict[str, Node]) -> None:
    """album/tonal from the mixdowns of the songs that ask for it; each song's pick and master."""
    tonal = {_song_id(s): match for s in album.songs if (match := album.master_for(s).tonal_match) is not None}
    _add(nodes, "album/tonal", "album_tonal", AlbumTonalParams(
        sample_rate_hz=album.sample_rate, songs=list(tonal), tonal_match=tonal),
        mixdowns=tuple(f"{song_id}/mixdown" for song_id in tonal))
    for song in album.songs:
        master = album.master_for(song)
        pick = None
        if master.tonal_match is not None:
            pick = f"{song.id}/tonal"
            _add(nodes, pick, "pick", PickParams(path=["tonal", _song_id(song)]), decision="album/tonal")
        _add(nodes, f"{song.id}/master", "master",
             MasterParams(sample_rate_hz=album.sample_rate, **fields_of(master, MasterStrip)),
             mixdown=f"{song.id}/mixdown", tonal=pick)


def _compile_album_gain(album: Album, chosen: dict[str, Target], nodes: dict[str, Node]) -> None:
    """album/loudness over the album-mode masters, and each target's pick of it."""
    album_mode = [s for s in album.songs if album.master_for(s).album_loudness == "album"]
    if not album_mode or all(t.target_lufs is None for t in chosen.values()):
        return
    for song in album_mode:
        _add(nodes, f"{song.id}/loudness", "song_loudness", SongLoudnessParams(sample_rate_hz=album.sample_rate),
             master=f"{song.id}/master")
    _add(nodes, "album/loudness", "album_loudness", AlbumLoudnessParams(
        sample_rate_hz=album.sample_rate, songs=[_song_id(s) for s in album_mode],
        target_lufs={name: t.target_lufs for name, t in chosen.items()}),
        songs=tuple(f"{s.id}/loudness" for s in album_mode))
    for name, target in chosen.items():
        if target.target_lufs is not None:
            _add(nodes, f"album/gain/{name}", "pick", PickParams(path=["gain_db", name]), decision="album/loudness")


def _ceiling_dbtp(album: Album, song: Song, target: Target) -> float:
    """The true-peak ceiling a song's delivery holds: the lower of the target's and its master limiter's."""
    return min(target.ceiling_dbtp, album.master_for(song).limiter.ceiling_dbtp)


def _compile_delivery(album: Album, song: Song, number: int, name: str, target: Target,
                      nodes: dict[str, Node]) -> None:
    """A song's final (rate, loudness, limiter), export (encoding) and tagged file for one target."""
    master = album.master_for(song)
    mode = master.album_loudness
    ceiling_dbtp = _ceiling_dbtp(album, song, target)
    gain = f"album/gain/{name}" if mode == "album" and target.target_lufs is not None else None
    _add(nodes, f"{song.id}/final/{name}", "final", FinalParams(
        sample_rate_hz=album.sample_rate, target_rate_hz=album.target_rate(target),
        **{**fields_of(target, LoudnessTarget), "ceiling_dbtp": ceiling_dbtp},
        limiter=master.limiter, loudness_mode=mode),
        master=f"{song.id}/master", album_gain=gain)
    tags = {"title": song.title, "artist": song.artist or album.artist, "album": album.title,
            "tracknumber": f"{number}/{len(album.songs)}", **({"isrc": song.isrc} if song.isrc else {}),
            **target.tags}
    export_id = f"{song.id}/export/{name}"
    _add(nodes, export_id, "export", ExportParams(
        sample_rate_hz=album.target_rate(target), **fields_of(target, Encoding),
        dither_seed=stable_seed(export_id), ceiling_dbtp=ceiling_dbtp),
        final=f"{song.id}/final/{name}")
    _add(nodes, f"{song.id}/tagged/{name}", "tagged", TaggedParams(
        format=target.format, tags={k: v for k, v in tags.items() if v}), export=export_id)


def _compile_album_export(album: Album, name: str, target: Target, nodes: dict[str, Node]) -> None:
    """One target's deliverables: the songs' files, the sequenced album file, CUE sheet and manifest."""
    lossy = is_lossy(target.format)  # the album file is encoded from the finals: one generation of loss
    rate = album.target_rate(target)
    _add(nodes, f"album/export/{name}", "album_export", AlbumExportParams(
        target=name, format=target.format, sample_rate_hz=rate,
        album_title=album.title, album_artist=album.artist, catalog=album.catalog,
        tracks=[TrackInfo(title=s.title, performer=s.artist or album.artist, isrc=s.isrc, gap_s=s.gap_s)
                for s in album.songs],
        ceiling_dbtp=min(_ceiling_dbtp(album, s, target) for s in album.songs),
        cue_sheet=not lossy and (target.preset == "cd" or (rate == 44100 and target.bit_depth == 16))),
        exports=tuple(f"{s.id}/tagged/{name}" for s in album.songs),
        finals=tuple(f"{s.id}/final/{name}" for s in album.songs) if lossy else None)


def stable_seed(text: str) -> int:
    """A seed that depends only on `text` (a node id), the same on every machine and run."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
