"""Turn pydantic validation errors into problems that say what is allowed."""

from __future__ import annotations

import types
import typing
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .documents import Document, PathKey
from .errors import Problem

NAME_RULE = "a name of letters, digits, '_', '-' or '.', up to 64 characters, starting with a letter or digit"


def validation_problems(err: ValidationError, doc: Document, model: type[BaseModel],
                        prefix: PathKey = ()) -> list[Problem]:
    """One problem per pydantic error, located in `doc` under `prefix`."""
    problems = []
    for item in err.errors(include_url=False):
        loc, _ = _walk(model, item["loc"])
        key_error = bool(loc) and loc[-1] == "[key]"
        if key_error:
            loc = loc[:-1]
        key = prefix + loc
        message = _message(item, model, item["loc"])
        if key_error:
            message = "name must be " + message.removeprefix("must be ")
        problems.append(Problem(doc.path, doc.line(key), ".".join(map(str, key)), message))
    return problems


def _walk(model: type[BaseModel], loc: PathKey) -> tuple[PathKey, Any]:
    """Follow a pydantic loc: the user's field path (union tags dropped) and the type there.

    pydantic puts the tag of a tagged union in the loc (`eq.0.peak.gain_db`); users wrote `eq.0.gain_db`.
    """
    cleaned: list[Any] = []
    tp: Any = model
    for part in loc:
        members = _union_members(tp)
        if members is not None and isinstance(part, str) and part in members:
            tp = members[part]
            continue
        cleaned.append(part)
        tp = _child_type(tp, part)
    return tuple(cleaned), tp


def _message(item: ErrorDetails, model: type[BaseModel], raw_loc: PathKey) -> str:
    """A sentence saying what is allowed, plus what was given."""
    kind, ctx = item["type"], item.get("ctx") or {}
    templates = {
        "missing": "required field is missing",
        "greater_than_equal": "must be >= {ge}",
        "greater_than": "must be > {gt}",
        "less_than_equal": "must be <= {le}",
        "less_than": "must be < {lt}",
        "literal_error": "must be one of {expected}",
        "float_type": "must be a number", "float_parsing": "must be a number",
        "int_type": "must be a whole number", "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "finite_number": "must be a finite number",
        "bool_type": "must be true or false", "bool_parsing": "must be true or false",
        "string_type": "must be a string",
        "string_too_short": "must not be empty",
        "string_too_long": "must be at most {max_length} characters",
        "dict_type": "must be a mapping of names to values",
        "model_type": "must be a mapping of fields", "model_attributes_type": "must be a mapping of fields",
        "list_type": "must be a list", "tuple_type": "must be a list [time_s, value]",
        "too_short": "must have at least {min_length} item(s)",
        "too_long": "must have at most {max_length} item(s)",
        "union_tag_invalid": "type must be one of {expected_tags}",
    }
    if kind == "extra_forbidden":
        allowed = _fields_at(_walk(model, raw_loc[:-1])[1])
        text = "unknown field" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    elif kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        text = f"must be {NAME_RULE}" if "A-Za-z0-9_.-" in pattern else f"must match {pattern}"
    elif kind == "value_error":
        text = str(item["msg"]).removeprefix("Value error, ")
    elif kind == "union_tag_not_found":
        text = "needs a 'type' field, one of " + ", ".join(_union_members(_walk(model, raw_loc)[1]) or [])
    elif kind in templates:
        try:
            text = templates[kind].format(**ctx)
        except (KeyError, IndexError):
            text = str(item["msg"])
    else:
        text = str(item["msg"])
    if kind != "missing":
        text += f" (got {_show(item.get('input'))})"
    return text


def _show(value: Any) -> str:
    """Short repr of a bad input for a one-line message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional wrappers down to the type that carries the fields."""
    while True:
        origin = get_origin(tp)
        if origin is typing.Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _union_members(tp: Any) -> dict[str, Any] | None:
    """For a tagged union of models, map each `type` tag to its model."""
    tp = _unwrap(tp)
    if get_origin(tp) not in (Union, types.UnionType):
        return None
    members: dict[str, Any] = {}
    for arg in get_args(tp):
        if isinstance(arg, type) and issubclass(arg, BaseModel) and "type" in arg.model_fields:
            for tag in get_args(arg.model_fields["type"].annotation):
                members[tag] = arg
    return members or None


def _child_type(tp: Any, part: Any) -> Any:
    """The type of `part` inside `tp` (a model field, a list item or a dict value)."""
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(part) if isinstance(part, str) else None
        return field.annotation if field else None
    origin, args = get_origin(tp), get_args(tp)
    if origin is list and args:
        return args[0]
    if origin is tuple and isinstance(part, int) and part < len(args):
        return args[part]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _fields_at(tp: Any) -> list[str]:
    """Field names a model type allows, for 'unknown field' messages."""
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return sorted(tp.model_fields)
    return []
