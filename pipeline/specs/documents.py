"""Parse a spec file (YAML, TOML or JSON by extension) into data plus a map of field → line."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from .errors import Problem

EXTENSIONS = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json"}
MAX_SPEC_BYTES = 16 * 1024 * 1024
MAX_SPEC_VALUES = 1_000_000
"""Values a spec may hold once YAML aliases are expanded: stops alias bombs ("billion laughs")."""


SCHEMA_KEY = "$schema"


class _SpecLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader (libyaml's parser where PyYAML has it: reading ten 30-stem song files takes 92 ms instead of
    283 ms) that also reads
    `1e308` (YAML 1.2 style, no dot) as a number, not a string."""


_SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


class _TooLarge(Exception):
    """The YAML node tree expands to more than MAX_SPEC_VALUES values."""


class _Recursive(Exception):
    """The YAML node graph has a cycle: an alias inside the node it names."""


PathKey = tuple[str | int, ...]


@dataclass
class Document:
    """A parsed spec file: its data and where each field sits."""

    path: Path
    data: Any
    lines: Mapping[PathKey, int] = field(default_factory=dict)
    text: str = ""

    def line(self, key: PathKey) -> int | None:
        """Line of a field, else of its nearest enclosing field the parser located."""
        for end in range(len(key), -1, -1):
            found = self.lines.get(tuple(key[:end]))
            if found is not None:
                return found
        return None


def read_document(path: Path, field_name: str = "") -> Document | Problem:
    """Read and parse one spec file, or return the one problem that stops it."""
    kind = EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        return Problem(path, None, field_name, f"spec files must end in {', '.join(EXTENSIONS)}")
    if not path.exists():
        return Problem(path, None, field_name, "file not found")
    if path.is_dir():
        return Problem(path, None, field_name, "is a directory, expected a spec file")
    if not path.is_file():  # a FIFO or device: reading it could wait forever
        return Problem(path, None, field_name, "is not a regular file (a FIFO, device or socket?), expected a spec file")
    try:
        raw = path.read_bytes()
    except OSError as err:
        return Problem(path, None, field_name, f"cannot read: {err.strerror}")
    if len(raw) > MAX_SPEC_BYTES:
        return Problem(path, None, field_name, f"spec file larger than {MAX_SPEC_BYTES} bytes")
    if b"\x00" in raw:
        return Problem(path, None, field_name, "binary file, expected UTF-8 text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Problem(path, None, field_name, "not UTF-8 text")
    if not text.strip():
        return Problem(path, None, field_name, "empty file")
    parser = {"yaml": _parse_yaml, "toml": _parse_toml, "json": _parse_json}[kind]
    doc = parser(path, text)
    if isinstance(doc, Document) and isinstance(doc.data, dict) and isinstance(doc.data.get(SCHEMA_KEY), str):
        del doc.data[SCHEMA_KEY]  # the spec names its JSON Schema, as editors expect: not a field of the spec
    return doc


def _parse_yaml(path: Path, text: str) -> Document | Problem:
    """Safe YAML: plain scalars, lists and mappings only; duplicate keys are errors."""
    loader = _SpecLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _count_values(node)
        data = loader.construct_document(node) if node is not None else None
    except _TooLarge:
        return Problem(path, None, "", f"more than {MAX_SPEC_VALUES} values (after expanding YAML aliases)")
    except _Recursive:
        return Problem(path, None, "", "invalid YAML: an alias refers to a node that contains it (a recursive "
                                       "structure); a spec is a tree")
    except ValueError as err:  # e.g. an integer of more than 4300 digits
        return Problem(path, None, "", f"invalid YAML: {_number_reason(err)}")
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        reason = getattr(err, "problem", None) or str(err).splitlines()[0]
        if "nesting depth" in reason:  # libyaml's word for what the Python parser meets as a RecursionError
            reason = "nested too deeply"
        return Problem(path, mark.line + 1 if mark else None, "", f"invalid YAML: {reason}")
    except RecursionError:
        return Problem(path, None, "", "invalid YAML: nested too deeply")
    finally:
        loader.dispose()
    lines: dict[PathKey, int] = {}
    duplicate = _walk_yaml(node, (), lines) if node is not None else None
    if duplicate:
        key, line = duplicate
        return Problem(path, line, ".".join(map(str, key)), "duplicate key (each name may appear once)")
    return Document(path, data, lines, text)


def _number_reason(err: ValueError) -> str:
    text = str(err)
    return "number too long" if "digits" in text else text.splitlines()[0] if text else "invalid value"


def _count_values(root: yaml.Node) -> None:
    """Raise _TooLarge when the node tree, aliases expanded, holds more than MAX_SPEC_VALUES nodes.

    Iterative, with a count per distinct node: an alias bomb is caught without expanding it.
    """
    sizes: dict[int, int] = {}
    entered: set[int] = set()  # expanded, not yet counted: the nodes on the current path from the root
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode)
                    else node.value if isinstance(node, yaml.SequenceNode) else [])
        if not done:
            if any(id(c) in entered and id(c) not in sizes for c in children):
                raise _Recursive  # an alias inside what it names: `a: &a [*a]`, a mapping merging itself
            if any(id(c) not in sizes for c in children):
                entered.add(id(node))
                stack.append((node, True))
                stack.extend((c, False) for c in children if id(c) not in sizes)
                continue
        size = 1 + sum(sizes.get(id(c), 0) for c in children)
        if size > MAX_SPEC_VALUES:
            raise _TooLarge
        sizes[id(node)] = size


def _walk_yaml(node: yaml.Node, key: PathKey, lines: dict[PathKey, int]) -> tuple[PathKey, int] | None:
    """Record the line of every node; return (key, line) of the first duplicate mapping key."""
    lines.setdefault(key, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            name = str(key_node.value)
            if name in seen and name != "<<":
                return key + (name,), key_node.start_mark.line + 1
            seen.add(name)
            lines[key + (name,)] = key_node.start_mark.line + 1
            found = _walk_yaml(value_node, key + (name,), lines)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found = _walk_yaml(item, key + (index,), lines)
            if found:
                return found
    return None


def _parse_json(path: Path, text: str) -> Document | Problem:
    """JSON with duplicate keys refused; lines come from YAML's reading of the same text."""
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [name for name, _ in items]
        duplicates.extend(name for name in set(names) if names.count(name) > 1)
        return dict(items)

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as err:
        return Problem(path, err.lineno, "", f"invalid JSON: {err.msg}")
    except ValueError as err:  # e.g. an integer of more than 4300 digits
        return Problem(path, None, "", f"invalid JSON: {_number_reason(err)}")
    except RecursionError:
        return Problem(path, None, "", "invalid JSON: nested too deeply")
    lines: dict[PathKey, int] = {}
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None:
            _walk_yaml(node, (), lines)
    except (yaml.YAMLError, RecursionError, ValueError):
        pass  # lines are a courtesy; JSON that YAML cannot read still validates
    if duplicates:
        name = duplicates[0]
        line = next((ln for key, ln in lines.items() if key and key[-1] == name), None)
        return Problem(path, line, name, "duplicate key (each name may appear once)")
    return Document(path, data, lines, text)


def _parse_toml(path: Path, text: str) -> Document | Problem:
    """TOML via tomllib; a field's line is found by scanning for its keys in order."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        match = re.search(r"at line (\d+)", str(err))
        reason = re.sub(r"\s*\(at line.*\)", "", str(err))
        return Problem(path, int(match.group(1)) if match else None, "", f"invalid TOML: {reason}")
    except ValueError as err:  # e.g. an integer of more than 4300 digits
        return Problem(path, None, "", f"invalid TOML: {_number_reason(err)}")
    except RecursionError:
        return Problem(path, None, "", "invalid TOML: nested too deeply")
    return Document(path, data, _TomlLines(text), text)


class _TomlLines(Mapping[PathKey, int]):
    """Lazy field → line lookup for TOML: each key of the path found after the previous one.
    Only looked up (`get`, `[]`): it lists no keys."""

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()

    def __getitem__(self, key: PathKey) -> int:
        if not key:
            return 1
        row = 0
        for part in key:
            if isinstance(part, int):
                continue
            pattern = re.compile(rf'(^|[\s.{{,\[])"?{re.escape(part)}"?\s*(=|\]|\.)')
            for index in range(row, len(self._lines)):
                if pattern.search(self._lines[index]):
                    row = index
                    break
            else:
                raise KeyError(key)
        return row + 1

    def __iter__(self) -> Iterator[PathKey]:
        return iter(())

    def __len__(self) -> int:
        return 0
