"""Turn pydantic's validation errors into problems a person can act on.

pydantic reports `('spokes', 'list', 1, 'nodes', 0, 'labels')`; users read
`spokes[1].nodes[0].labels`. An unknown key gets the nearest known one ("did you mean").
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Sequence
from difflib import get_close_matches
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from kindfleet.errors import Problem

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_UNION_TAGS = frozenset({"count", "list", "set"})


def format_path(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def _strip_tags(loc: Sequence[str | int], root: type[BaseModel]) -> tuple[str | int, ...]:
    """Drop discriminator tags (`spokes.list[1]` -> `spokes[1]`) that pydantic puts in loc."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        if part in _UNION_TAGS and i > 0 and loc[i - 1] == "spokes":
            continue
        if isinstance(part, str) and part.startswith(("function-", "tagged-union")):
            continue
        out.append(part)
    return tuple(out)


def _model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class whose field sits at `loc` (for listing the keys it accepts)."""
    current: Any = root
    for part in loc:
        current = _descend(current, part)
        if current is None:
            return None
    return _unwrap_model(current)


def _descend(annotation: Any, part: str | int) -> Any:
    model = _unwrap_model(annotation)
    if model is not None and isinstance(part, str):
        for name, info in model.model_fields.items():
            if part in (info.alias, name):
                return info.annotation
        return None
    for arg in _args(annotation):
        origin = typing.get_origin(arg)
        if origin is list and isinstance(part, int):
            return typing.get_args(arg)[0]
        if origin is dict and isinstance(part, str):
            return typing.get_args(arg)[1]
    return None


def _args(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _args(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [a for arg in typing.get_args(annotation) for a in _args(arg)]
    return [annotation]


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    for arg in _args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def known_keys(root: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    model = _model_at(root, loc)
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    match = get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}?" if match else None


_TYPE_WORDS = {
    "model_type": "must be a map of fields",
    "model_attributes_type": "must be a map of fields",
    "dict_type": "must be a map (key: value)",
    "list_type": "must be a list",
    "string_type": "must be a string (quote it)",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
}


def _message(error: ErrorDetails, root: type[BaseModel], loc: tuple[str | int, ...]) -> Problem:
    kind = error["type"]
    path = format_path(loc)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        keys = known_keys(root, loc[:-1])
        hint = did_you_mean(key, keys)
        fix = hint or (f"known keys: {', '.join(sorted(keys))}" if keys else "remove it")
        return Problem(path, f"unknown field {key!r}", fix)
    if kind == "missing":
        return Problem(path, "is required", None)
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return Problem(path, f"{error['input']!r} is not allowed", f"use one of {expected}")
    if kind in _TYPE_WORDS:
        return Problem(path, f"{_TYPE_WORDS[kind]}, not {_shown(error['input'])}", None)
    message = error["msg"].removeprefix("Value error, ")
    return Problem(path, message, None)


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def problems_from(
    exc: ValidationError, root: type[BaseModel], prefix: Sequence[str | int] = ()
) -> list[Problem]:
    out: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for error in exc.errors(include_url=False):
        loc = _strip_tags(error["loc"], root)
        problem = _message(error, root, loc)
        if prefix:
            problem = Problem(format_path([*prefix, *loc]), problem.message, problem.fix)
        if (problem.path, problem.message) not in seen:
            seen.add((problem.path, problem.message))
            out.append(problem)
    return out
