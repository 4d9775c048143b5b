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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml import events as ev

from kindfleet.errors import Problem, SpecError
from kindfleet.fleetspec.errors import format_path
from kindfleet.kind.yamlscalars import ScalarKind, core_kind, core_value, matches

DataPath = tuple[str | int, ...]

MAX_DEPTH = 64  # kind configs nest about 10 deep; a fleet file a little more
MAX_ALIAS_VALUES = 100_000  # what aliases may add to the file, in values
TEXT_MAPS = frozenset({"labels", "runtimeConfig"})  # string-valued maps, read as written
_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS: dict[str, ScalarKind] = {
    f"{_CORE}{kind}": kind for kind in ("null", "bool", "int", "float", "str")
}
_Loader: Callable[[str | bytes], Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Document:
    """The file's one document as plain data, and the literal text of its plain scalars
    that are not strings (path -> text), for messages."""

    data: Any
    texts: dict[DataPath, str]


class _TooBroken(Exception):
    """Reading cannot go on (a bomb, too deep, a second document): report what we have."""


@dataclass
class _Frame:
    value: dict[str, Any] | list[Any]
    path: DataPath
    anchor: str | None
    line: int
    text_values: bool = False  # a `labels` map: scalars keep their text
    key: str | None = None  # a map's key waiting for its value
    key_line: int = 0
    merging: bool = False  # the waiting key is `<<`
    merges: list[Any] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # a map's keys -> line written
    size: int = 1


class _Reader:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.texts: dict[DataPath, str] = {}
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.alias_values = 0
        self.documents: list[Any] = []
        self.document_line = 1

    # -- events ---------------------------------------------------------------------

    def run(self, loader: Any) -> None:
        handlers: dict[type, Callable[[Any], None]] = {
            ev.ScalarEvent: self._scalar,
            ev.MappingStartEvent: self._start,
            ev.SequenceStartEvent: self._start,
            ev.MappingEndEvent: self._end,
            ev.SequenceEndEvent: self._end,
            ev.AliasEvent: self._alias,
            ev.DocumentStartEvent: self._document_start,
        }
        get_event = loader.get_event
        while True:
            event = get_event()
            if event is None or type(event) is ev.StreamEndEvent:
                return
            handler = handlers.get(type(event))
            if handler is not None:
                handler(event)

    def _document_start(self, event: Any) -> None:
        self.document_line = event.start_mark.line + 1
        self.anchors.clear()

    def _root(self) -> None:
        """A document gets a value: if an earlier one had one, the file holds two."""
        if any(doc is not None for doc in self.documents):
            self.problems.append(
                Problem(
                    "",
                    f"holds more than one YAML document (another starts at line "
                    f"{self.document_line}); a fleet file holds exactly one",
                    "remove the `---` and what follows, or put each fleet in its own file",
                )
            )
            raise _TooBroken

    def _scalar(self, event: Any) -> None:
        top = self.stack[-1] if self.stack else None
        if top is not None and top.key is None and isinstance(top.value, dict):
            self._key(top, event)
            return
        path = self._child_path(top)
        if top is not None and top.text_values:
            if event.tag not in (None, "!") and event.tag not in _SCALAR_TAGS:
                self._bad_tag(event.tag, path, event)
            value: Any = "" if self._is_null(event) else event.value
        else:
            value = self._typed(event, path)
        self._remember(event.anchor, value, 1)
        self._attach(value, 1)

    def _start(self, event: Any) -> None:
        top = self.stack[-1] if self.stack else None
        if top is None:
            self._root()
        path = self._child_path(top)
        if top is not None and top.key is None and isinstance(top.value, dict):
            self._problem(path, event, "a key must be a plain name, not a map or a list")
            raise _TooBroken
        is_map = type(event) is ev.MappingStartEvent
        expected = f"{_CORE}map" if is_map else f"{_CORE}seq"
        if event.tag not in (None, "!", expected):
            self._bad_tag(event.tag, path, event)
        if len(self.stack) >= MAX_DEPTH:
            self._problem(path, event, f"nests deeper than {MAX_DEPTH} levels")
            raise _TooBroken
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        text_values = is_map and top is not None and top.key in TEXT_MAPS
        frame = _Frame({} if is_map else [], path, event.anchor, event.start_mark.line + 1)
        frame.text_values = text_values
        self.stack.append(frame)

    def _end(self, event: Any) -> None:
        frame = self.stack.pop()
        if frame.merges and isinstance(frame.value, dict):
            self._merge(frame)
        if frame.anchor is not None:
            self.open_anchors.discard(frame.anchor)
        self._remember(frame.anchor, frame.value, frame.size)
        self._attach(frame.value, frame.size)

    def _alias(self, event: Any) -> None:
        top = self.stack[-1] if self.stack else None
        path = self._child_path(top)
        name = event.anchor
        if name in self.open_anchors:
            self._problem(path, event, f"alias *{name} refers to a value that contains it")
            raise _TooBroken
        if name not in self.anchors:
            self._problem(path, event, f"alias *{name} has no anchor &{name} before it")
            self._attach(None, 1)
            return
        value, size = self.anchors[name]
        self.alias_values += size
        if self.alias_values > MAX_ALIAS_VALUES:
            self._problem(
                path,
                event,
                f"aliases expand the file by more than {MAX_ALIAS_VALUES:,} values "
                "(an alias bomb?)",
            )
            raise _TooBroken
        if top is not None and top.key is None and isinstance(top.value, dict):
            self._problem(path, event, "a key must be a plain name, not an alias")
            raise _TooBroken
        self._attach(value, size)

    # -- building -------------------------------------------------------------------

    def _key(self, frame: _Frame, event: Any) -> None:
        line = event.start_mark.line + 1
        if event.value == "<<" and event.implicit[0] and event.tag is None:
            frame.merging = True
            frame.key, frame.key_line = "<<", line
            return
        if event.tag not in (None, "!") and event.tag not in _SCALAR_TAGS:
            self._bad_tag(event.tag, (*frame.path, event.value), event)
        frame.key, frame.key_line = event.value, line  # keys are names: always their text

    def _attach(self, value: Any, size: int) -> None:
        if not self.stack:
            if value is not None and not isinstance(value, dict | list):
                self._root()  # a collection checked when it started
            self.documents.append(value)
            return
        frame = self.stack[-1]
        frame.size += size
        if isinstance(frame.value, list):
            frame.value.append(value)
            return
        key, frame.key = frame.key, None
        assert key is not None
        if frame.merging:
            frame.merging = False
            frame.merges.append(value)
            return
        first = frame.lines.get(key)
        if first is not None:
            path = (*frame.path, key)
            self.problems.append(
                Problem(
                    format_path(path),
                    f"is written twice (lines {first} and {frame.key_line}); "
                    "kind refuses repeated keys",
                    "keep one of them",
                )
            )
            return
        frame.lines[key] = frame.key_line
        frame.value[key] = value

    def _merge(self, frame: _Frame) -> None:
        """`<<: *defaults` (or a list of them): keys written here win, then earlier maps."""
        assert isinstance(frame.value, dict)
        sources: list[Any] = []
        for merged in frame.merges:
            sources += merged if isinstance(merged, list) else [merged]
        for source in sources:
            if not isinstance(source, dict):
                self.problems.append(
                    Problem(
                        format_path((*frame.path, "<<")),
                        "can only merge maps",
                        "write `<<: *anchor` where &anchor names a map",
                    )
                )
                continue
            for key, value in source.items():
                frame.value.setdefault(key, value)

    def _remember(self, anchor: str | None, value: Any, size: int) -> None:
        if anchor is not None:
            self.anchors[anchor] = (value, size)

    def _child_path(self, top: _Frame | None) -> DataPath:
        if top is None:
            return ()
        if isinstance(top.value, list):
            return (*top.path, len(top.value))
        return (*top.path, top.key if top.key is not None else "")

    # -- scalars --------------------------------------------------------------------

    @staticmethod
    def _is_null(event: Any) -> bool:
        if event.tag is None:
            return bool(event.implicit[0]) and core_kind(event.value) == "null"
        return bool(event.tag == f"{_CORE}null")

    def _typed(self, event: Any, path: DataPath) -> Any:
        text: str = event.value
        tag = event.tag
        if tag is None and event.implicit[0]:
            found = core_kind(text)
            if found != "str":
                self.texts[path] = text
            return core_value(text, found)
        if tag is None or tag == "!":
            return text
        kind = _SCALAR_TAGS.get(tag)
        if kind is None:
            self._bad_tag(tag, path, event)
            return text
        if not matches(text, kind):
            shown = f"!!{kind} {text}".strip()
            self._problem(path, event, f"{shown!r} is not a valid {kind}", "remove the tag")
            return text
        return core_value(text, kind)

    def _bad_tag(self, tag: str, path: DataPath, event: Any) -> None:
        shown = "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag
        self._problem(
            path,
            event,
            f"the tag {shown} is not used in fleet files",
            "remove it (to force a string, quote the value)",
        )

    def _problem(self, path: DataPath, event: Any, message: str, fix: str | None = None) -> None:
        where = f"line {event.start_mark.line + 1}"
        self.problems.append(Problem(format_path(path) or where, f"{message} ({where})", fix))


def read(text: str | bytes, *, source: str | None = None) -> Document:
    """The one document of a fleet file (text, or bytes in any encoding YAML allows);
    raises `SpecError` naming every problem."""
    reader = _Reader()
    loader = _Loader(text)
    try:
        reader.run(loader)
    except _TooBroken:
        pass  # its problem is recorded; what was found before it is reported with it
    except yaml.YAMLError as exc:
        reader.problems.append(_syntax_problem(exc, text, reader))
    finally:
        loader.dispose()
    if reader.problems:
        raise SpecError(reader.problems, source=source)
    docs = [doc for doc in reader.documents if doc is not None]
    if not docs:
        raise SpecError(
            [Problem("", "is empty", "run `kindfleet init` for an example")], source=source
        )
    return Document(docs[0], reader.texts)


def _syntax_problem(exc: yaml.YAMLError, source: str | bytes, reader: _Reader) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    line = ""
    if mark is not None:
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        line = _line(source, mark.line)
    else:
        where = _reader_position(exc, source)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    inside = format_path(reader.stack[-1].path) if reader.stack else ""
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
    if "tab" in problem or "\t" in line[: len(line) - len(line.lstrip())]:
        return "indent with spaces; YAML does not allow tabs for indentation"
    if "nesting depth" in problem:
        return "flatten the structure"
    if "special characters" in problem or "invalid" in problem.lower():
        return "save the file as UTF-8 text without control characters"
    return None
