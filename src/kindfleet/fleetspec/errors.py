"""Turn pydantic's validation errors into problems a person can act on.

pydantic reports `('spokes', 'list', 1, 'nodes', 0, 'labels')`; users read
`spokes[1].nodes[0].labels`. An unknown key gets the nearest known one ("did you mean").
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from difflib import get_close_matches
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from kindfleet.errors import MAX_SHOWN, MoreProblems, Problem, more_problems

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_UNION_TAGS = frozenset({"count", "list", "set"})


class FieldProblem(ValueError):
    """Raised by a field validator: what is wrong with the value, and how to fix it."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


def shown_key(key: str, limit: int = 60) -> str:
    """A key as a message shows it: quoted, cut when long, its code points spelled out
    when it holds characters that look like others (`spоkes` with a Cyrillic o)."""
    text = repr(key) if len(key) <= limit else repr(key[: limit - 3] + "...")
    if not key.isascii():
        text += f" (written {key[:limit]!a})"
    return text


def format_path(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.fullmatch(part) and len(part) <= 60:
            out += f".{part}" if out else part
        else:
            out += f"[{shown_key(part)}]"
    return out


def _strip_tags(loc: Sequence[str | int], root: type[BaseModel]) -> tuple[str | int, ...]:
    """Drop discriminator tags (`spokes.list[1]` -> `spokes[1]`) that pydantic puts in loc."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        if part in _UNION_TAGS and i > 0 and loc[i - 1] == "spokes":
            continue
        if isinstance(part, str) and part.startswith(("function-", "tagged-union")):
            continue
        if part == "[key]":  # pydantic's marker for "the key itself is wrong"
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


MAX_TEXT = 300  # characters of one message or fix: a 5 MB name is not quoted whole


def capped(problems: Sequence[Problem], limit: int = MAX_SHOWN) -> list[Problem]:
    """The first `limit` problems, each cut to a readable length, and how many more there
    are (`MoreProblems`, which `ProblemsError` counts)."""
    real = [p for p in problems if not isinstance(p, MoreProblems)]
    more = len(real[limit:]) + sum(p.count for p in problems if isinstance(p, MoreProblems))
    out = [
        Problem(_cut(p.path), _cut(p.message), _cut(p.fix) if p.fix else p.fix)
        for p in real[:limit]
    ]
    if more:
        out.append(more_problems(more))
    return out


def _cut(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    half = MAX_TEXT // 2
    return f"{text[:half]}...({len(text) - 2 * half} characters)...{text[-half:]}"


_TYPE_WORDS = {
    "model_type": "must be a map of fields",
    "model_attributes_type": "must be a map of fields",
    "dict_type": "must be a map (key: value)",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
}
# Range checks (`Field(ge=...)`) in words: (message with {bound}, the ctx key of the bound).
_BOUNDS = {
    "less_than_equal": ("must be at most {bound}", "le"),
    "less_than": ("must be less than {bound}", "lt"),
    "greater_than_equal": ("must be at least {bound}", "ge"),
    "greater_than": ("must be more than {bound}", "gt"),
    "too_long": ("may hold at most {bound} items", "max_length"),
    "too_short": ("must hold at least {bound} item(s)", "min_length"),
    "string_too_short": ("must not be empty", "min_length"),
    "string_too_long": ("may be at most {bound} characters", "max_length"),
}


def _message(
    error: ErrorDetails, root: type[BaseModel], loc: tuple[str | int, ...], text: str | None
) -> Problem:
    kind = error["type"]
    path = format_path(loc)
    ctx = error.get("ctx", {})
    if isinstance(ctx.get("error"), FieldProblem):
        return Problem(path, ctx["error"].message, ctx["error"].fix)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        keys = known_keys(root, loc[:-1])
        hint = did_you_mean(key, keys)
        fix = hint or (f"known keys: {', '.join(sorted(keys))}" if keys else "remove it")
        return Problem(path, f"unknown field {shown_key(key)}", fix)
    if kind == "missing":
        return Problem(path, "is required", None)
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        return Problem(
            path, f"{_shown(error['input'], text)} is not allowed", f"use one of {expected}"
        )
    return _value_message(error, path, text)


def _value_message(error: ErrorDetails, path: str, text: str | None) -> Problem:
    """A value of the wrong type or out of range, in words, with what was written."""
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind in _TYPE_WORDS:
        shown = _shown(error["input"], text)
        fix = _quote_fix(error["input"], text) if kind == "string_type" else None
        return Problem(path, f"{_TYPE_WORDS[kind]}, not {shown}", fix)
    if kind in _BOUNDS:
        words, bound = _BOUNDS[kind]
        message = words.format(bound=ctx.get(bound, "?"))
        if kind in ("too_long", "too_short"):
            return Problem(path, f"{message}, not {ctx.get('actual_length', '?')}")
        return Problem(path, f"{message}, not {_shown(error['input'], text, noun=False)}")
    return Problem(path, error["msg"].removeprefix("Value error, "), None)


def _shown(value: Any, text: str | None = None, *, noun: bool = True) -> str:
    """The value as the user wrote it: `1.30` stays 1.30, not the float 1.3."""
    if text is not None and not isinstance(value, dict | list):
        if value is None:
            return "empty (null)" if text in ("", "~") else f"{text} (null)"
        if not noun:
            return text
        return f"{'the boolean' if isinstance(value, bool) else 'the number'} {text}"
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _quote_fix(value: Any, text: str | None) -> str | None:
    if isinstance(value, dict | list):
        return None
    written = text if text is not None else ("" if value is None else str(value))
    return f'quote it: "{written}"' if written else 'write a value in quotes, e.g. "x"'


def problems_from(
    exc: ValidationError,
    root: type[BaseModel],
    prefix: Sequence[str | int] = (),
    *,
    texts: Mapping[tuple[str | int, ...], str] | None = None,
    patterns: Mapping[str, tuple[str, str]] | None = None,
) -> list[Problem]:
    """Every error of `exc` as a Problem, `prefix` before each path; `texts` (path -> the
    literal text of a plain scalar) lets messages quote what was written; `patterns`
    (pattern -> what it asks for, an example) says a value's form in words, not in the
    regular expression."""
    out: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    errors = exc.errors(include_url=False)
    for i, error in enumerate(errors):
        if len(out) >= MAX_SHOWN:  # enough to act on, and each costs a "did you mean"
            out.append(more_problems(len(errors) - i))
            break
        loc = _strip_tags(error["loc"], root)
        full = (*prefix, *loc)
        text = texts.get(full) if texts else None
        words = (patterns or {}).get(str(error.get("ctx", {}).get("pattern")))
        if error["type"] == "string_pattern_mismatch" and words is not None:
            problem = Problem(
                format_path(loc), f"{_shown(error['input'], text)} {words[0]}", words[1]
            )
        else:
            problem = _message(error, root, loc, text)
        if prefix:
            problem = Problem(format_path(full), problem.message, problem.fix)
        if (problem.path, problem.message) not in seen:
            seen.add((problem.path, problem.message))
            out.append(problem)
    return out
