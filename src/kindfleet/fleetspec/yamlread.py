"""Reading a fleet file's YAML the way kind reads its own config, minus the surprises.

PyYAML's `safe_load` reads YAML 1.1: `country: no` becomes False, `ver: 1.10` becomes
1.1, a repeated key silently wins, and an alias bomb or 600 nested lists ends in a
memory blow-up or a RecursionError. So the file is read here from libyaml's event
stream (the C parser where PyYAML has it, its Python twin otherwise) with one loop and
no recursion:

- plain scalars take the YAML 1.2 core schema (`no`, `on`, `y` are strings);
- the values of `labels` and `runtimeConfig` keep the text as written (`1.10`, `0x1F`,
  `no`), as kind's own decoder gives them to its string-typed fields; nulls are "";
- map keys are always text, written-out keys may not repeat (kind refuses that too);
- explicit tags must fit their value (`!!int three` is an error) and only the core ones
  are accepted; aliases may not contain themselves, nor blow the file up;
- nesting is bounded.

Every problem of the file is collected, each with its path and line, and raised as one
`SpecError`. The literal text of every plain scalar that is not a string is kept too, so
that messages can quote what the user typed (`"1.30"`, not 1.3).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml import events as ev

from kindfleet.errors import Problem, SpecError
from kindfleet.fleetspec.errors import capped, format_path
from kindfleet.fleetspec.yamlevents import (
    MAX_ALIAS_VALUES,
    MAX_DEPTH,
    DataPath,
    EventReader,
    TooBroken,
)

__all__ = ["MAX_ALIAS_VALUES", "MAX_DEPTH", "DataPath", "Document", "read"]

_Loader: Callable[[str | bytes], Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class FileKind:
    """What a file read here is, in the words its problems are told in."""

    empty_fix: str  # what to do with an empty file
    repeated: str  # why a repeated key is refused
    noun: str = "fleet file"  # what it is called
    second_fix: str = "remove the `---` and what follows, or put each fleet in its own file"


FLEET_FILE = FileKind("run `kindfleet init` for an example", "kind refuses repeated keys")


@dataclass(frozen=True)
class Document:
    """The file's one document as plain data, and the literal text of its plain scalars
    that are not strings (path -> text), for messages."""

    data: Any
    texts: dict[DataPath, str]


def read(text: str | bytes, *, source: str | None = None, kind: FileKind = FLEET_FILE) -> Document:
    """The one document of a fleet file, or a file of another `kind` read the same way
    (text, or bytes in any encoding YAML allows); raises `SpecError` naming every problem."""
    text = _utf32_decoded(text, source)
    reader = EventReader(kind.repeated, noun=kind.noun, second_fix=kind.second_fix)
    loader = _Loader(text)
    feed, get_event = reader.feed, loader.get_event
    try:
        while (event := get_event()) is not None and type(event) is not ev.StreamEndEvent:
            feed(event)
    except TooBroken:
        pass  # its problem is recorded; what was found before it is reported with it
    except yaml.YAMLError as exc:
        reader.problems.append(_syntax_problem(exc, text, reader))
    finally:
        loader.dispose()
        reader.finish()
    if reader.problems:
        raise SpecError(capped(reader.problems), source=source)
    docs = [doc for doc in reader.documents if doc is not None]
    if not docs:
        raise SpecError([Problem("", "is empty", kind.empty_fix)], source=source)
    return Document(docs[0], reader.texts)


def _utf32_decoded(text: str | bytes, source: str | None) -> str | bytes:
    """libyaml reads UTF-8 and UTF-16 only; YAML allows UTF-32 with its BOM too (and the
    fleet file's docs say so): such a file was refused as "unacceptable character #x0000"."""
    if not isinstance(text, bytes) or text[:4] not in (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE):
        return text
    try:
        return text.decode("utf-32")
    except UnicodeDecodeError as exc:
        problem = Problem(f"byte {exc.start}", "is not valid UTF-32 (the file starts with its BOM)",
                          "save the file as UTF-8 text")  # fmt: skip
        raise SpecError([problem], source=source) from None


def _syntax_problem(exc: yaml.YAMLError, source: str | bytes, reader: EventReader) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    line = ""
    if mark is not None:
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        line = _line(source, mark.line)
    else:
        where = _reader_position(exc, source)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    inside = format_path(reader.path_here())
    message = f"is not valid YAML: {problem}" + (f" (inside {inside})" if inside else "")
    return Problem(where, message, _syntax_fix(problem, line))


def _line(source: str | bytes, number: int) -> str:
    """Line `number` (from 0) of the source, for telling what tripped the parser."""
    text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
    lines = text.splitlines()
    return lines[number] if 0 <= number < len(lines) else ""


def _reader_position(exc: yaml.YAMLError, source: str | bytes) -> str:
    """ReaderError (a control character, bytes that are not UTF-8) only knows an offset."""
    position = getattr(exc, "position", None)
    if not isinstance(position, int):
        return ""
    newline: Any = b"\n" if isinstance(source, bytes) else "\n"
    return f"line {source.count(newline, 0, position) + 1}"


def _syntax_fix(problem: str, line: str) -> str | None:
    # A word, not a part of one: "unacceptable character" (bytes not UTF-8) was told to
    # indent with spaces (found from outside).
    if re.search(r"\btabs?\b", problem) or "\t" in line[: len(line) - len(line.lstrip())]:
        return "indent with spaces; YAML does not allow tabs for indentation"
    if "nesting depth" in problem:
        return "flatten the structure"
    if "escape" in problem:
        return "a \\u escape must name a character (not half of a surrogate pair)"
    if "special characters" in problem or "octet" in problem or "utf-8" in problem.lower():
        return "save the file as UTF-8 text without control characters"
    return None
