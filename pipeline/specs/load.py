"""Load an album (or a single song) spec: parse, validate, cross-check, resolve paths."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .album import Album, AlbumSettings
from .checks import MAX_SONG_S, Source, check_file_names, check_master, check_song, check_targets
from .documents import Document, PathKey, read_document
from .errors import Problem, SpecError
from .placement import placed
from .problems import validation_problems
from .song import Song


def load(spec_path: str | Path) -> Album:
    """Load and fully validate an album spec; raise SpecError listing every problem."""
    path = Path(spec_path)
    doc = read_document(path)
    if isinstance(doc, Problem):
        raise SpecError([doc])
    if not isinstance(doc.data, dict):
        raise SpecError([Problem(path, 1, "", "must be a mapping of fields (an album or a song)")])
    problems: list[Problem] = []
    data = doc.data
    if "songs" not in data and "stems" in data:
        title = data.get("title")
        settings_data: dict[str, Any] = {"title": title if isinstance(title, str) and title else path.stem}
        if isinstance(data.get("artist"), str):
            settings_data["artist"] = data["artist"]
        entries: list[tuple[Any, Source, str]] = [(data, Source(doc, (), path.parent), _file_song_id(path.stem, data))]
    else:
        settings_data = {k: v for k, v in data.items() if k != "songs"}
        entries = _song_entries(doc, problems)
    return _checked(settings_data, entries, doc, problems)


def validate_album(album: Album | dict[str, Any]) -> Album:
    """An album made or changed in Python (a notebook's `model_copy`, `edit.set_value`; or its fields as a dict)
    checked exactly as a loaded spec is: field bounds, routing, effects, files, ids, lengths, names; SpecError
    with the CLI's messages, each naming its field (`songs.0.stems.kick.gain_db`) in `<python>`."""
    data = album.model_dump(mode="python") if isinstance(album, Album) else dict(album)
    doc = Document(Path("<python>"), data)
    songs = data.pop("songs")
    entries = [(song, Source(doc, ("songs", i), Path("/")), str(song.get("id") or i)) for i, song in enumerate(songs)]
    return _checked(data, entries, doc, [])


def _checked(settings_data: dict[str, Any], entries: list[tuple[Any, Source, str]], doc: Document,
             problems: list[Problem]) -> Album:
    """The album from its settings and song entries once every check passes; SpecError listing every problem."""
    path = doc.path
    settings = _validate(AlbumSettings, settings_data, doc, (), problems)
    songs = [(_validate(Song, raw, src.doc, src.prefix, problems), src, default_id)
             for raw, src, default_id in entries]
    if settings is not None:
        album_source = Source(doc, (), path.parent)
        problems.extend(check_master(settings.master, album_source, ("master",), settings.sample_rate))
        problems.extend(check_targets(settings.targets, album_source, settings.sample_rate))
        for song, src, _ in songs:
            if song is not None:
                problems.extend(check_song(song, src, settings.sample_rate))
    resolved = []
    for song, src, default_id in songs:
        if song is not None:
            song, misplaced = placed(_resolve(song, src, default_id), src)
            resolved.append(song)
            problems.extend(misplaced)
    problems.extend(_check_unique_ids(resolved, [src for song, src, _ in songs if song is not None]))
    if not problems and settings is not None:
        problems.extend(_check_song_lengths(resolved, [src for song, src, _ in songs if song is not None],
                                            settings.sample_rate))
    if settings is not None and len(resolved) == len(songs):
        problems.extend(check_file_names(settings.title, resolved, Source(doc, (), path.parent)))
    if problems or settings is None:
        raise SpecError(list(dict.fromkeys(problems)))  # a single-song spec's title is checked twice
    return Album(**dict(settings), songs=resolved)


def _song_entries(doc: Document, problems: list[Problem]) -> list[tuple[Any, Source, str]]:
    """The album's songs: (raw data, where it came from, default id) for each one that parses."""
    if "songs" not in doc.data:
        problems.append(Problem(doc.path, 1, "songs", "required field is missing (a list of song files or songs)"))
        return []
    raw = doc.data["songs"]
    if not isinstance(raw, list) or not raw:
        problems.append(Problem(doc.path, doc.line(("songs",)), "songs",
                                f"must be a non-empty list of song file paths or inline songs (got {raw!r:.60})"))
        return []
    entries = []
    for index, item in enumerate(raw):
        key = ("songs", index)
        field = f"songs.{index}"
        if isinstance(item, dict):
            entries.append((item, Source(doc, key, doc.path.parent), _slug(str(item.get("title", index)))))
        elif isinstance(item, str) and item.strip():
            try:
                song_path = (doc.path.parent / item).resolve()
                song_path.stat()
            except FileNotFoundError:
                pass
            except (OSError, ValueError, RuntimeError) as err:  # name too long, link loop, NUL
                reason = getattr(err, "strerror", None) or str(err)
                problems.append(Problem(doc.path, doc.line(key), field, f"song file cannot be opened ({reason})"))
                continue
            if not song_path.exists() or song_path.is_dir():
                what = "is a directory" if song_path.exists() else "not found"
                problems.append(Problem(doc.path, doc.line(key), field, f"song file {what}: {song_path}"))
                continue
            song_doc = read_document(song_path)
            if isinstance(song_doc, Problem):
                problems.append(song_doc)
            elif not isinstance(song_doc.data, dict):
                problems.append(Problem(song_path, 1, "", "must be a mapping of song fields"))
            else:
                entries.append((song_doc.data, Source(song_doc, (), song_path.parent),
                                _file_song_id(_slug(song_path.stem), song_doc.data)))
        else:
            problems.append(Problem(doc.path, doc.line(key), field,
                                    f"must be a song file path or an inline song (got {item!r:.60})"))
    return entries


Model = TypeVar("Model", bound=BaseModel)


def _validate(model: type[Model], data: Any, doc: Document, prefix: PathKey, problems: list[Problem]) -> Model | None:
    """Validate data against a model, adding located problems; None when invalid."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problems.extend(validation_problems(err, doc, model, prefix))
        return None


def _resolve(song: Song, source: Source, default_id: str) -> Song:
    """Give the song its id and make stem paths absolute (relative to the file that lists them)."""
    stems = {name: stem.model_copy(update={"file": _absolute(source.base_dir / stem.file)} | (
                 {} if stem.right_file is None else {"right_file": _absolute(source.base_dir / stem.right_file)}))
             for name, stem in song.stems.items()}
    return song.model_copy(update={"id": song.id or default_id, "stems": stems})


def _absolute(path: Path) -> str:
    """The resolved path; a path that cannot resolve (link loop, NUL) stays as given (checks report it)."""
    try:
        return str(path.resolve())
    except (OSError, ValueError, RuntimeError):
        return str(path.absolute())


ALBUM_NODE_PREFIX = "album"
"""Album-level node ids start `album/` (album/tonal, album/export/<target>): no song may take that id."""


def _check_song_lengths(songs: list[Song], sources: list[Source], sample_rate_hz: int) -> list[Problem]:
    """A song lasts at most MAX_SONG_S with its effects' tails too (each stem's end is checked with its file):
    a long reverb or a feedback delay after a late stem must not carry it past the cap."""
    from ..routing import Routing, song_frames  # the routing imports the specs: loaded once they are

    problems = []
    for song, src in zip(songs, sources):
        seconds = song_frames(song, Routing.of(song, sample_rate_hz), sample_rate_hz) / sample_rate_hz
        if seconds > MAX_SONG_S:
            problems.append(src.problem(("tail_s",), f"the song lasts {seconds:.0f} s with its effects' tails; a song "
                                                     f"may last at most {MAX_SONG_S:.0f} s (shorten tail_s, a "
                                                     "reverb's decay_s or a delay's feedback, or move stems earlier)"))
    return problems


def _check_unique_ids(songs: list[Song], sources: list[Source]) -> list[Problem]:
    seen: dict[str | None, Source] = {}
    problems = []
    for song, src in zip(songs, sources):
        if song.id in seen:
            problems.append(src.problem(("id",), f"song id {song.id!r} is used twice; give each song a unique id"))
        elif song.id == ALBUM_NODE_PREFIX:
            problems.append(src.problem(("id",), f"song id {song.id!r} is reserved for the album's own nodes; "
                                                 f"give the song another id"))
        seen[song.id] = src
    return problems


def _file_song_id(file_id: str, data: dict[str, Any]) -> str:
    """The id of a song whose file gives none: the file's name, unless that is `album` (init's default spec name,
    the natural one for a one-song project), which names the album's own nodes: then its title's slug."""
    if file_id != ALBUM_NODE_PREFIX:
        return file_id
    title = data.get("title")
    return _slug(title) if isinstance(title, str) and _slug(title) != ALBUM_NODE_PREFIX else "song"


def _slug(text: str) -> str:
    """A node-id-safe song id from a file name or title."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", text.lower()).strip("-.")[:64]
    return slug or "song"
