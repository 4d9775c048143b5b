"""Plain data from a stream of YAML events: one loop, no recursion, every problem kept.

`yamlread` explains the rules; this is the machine. A stack of open maps and lists
follows the events; each finished value is attached to the collection below it. Paths
(for messages and for the literal text of non-string scalars) are only built when one is
needed, since a 5 MB file holds a million scalars and almost all of them are fine.
"""

from __future__ import annotations

from typing import Any

from yaml import events as ev

from kindfleet.errors import Problem
from kindfleet.fleetspec.errors import format_path
from kindfleet.kind.yamlscalars import ScalarKind, core_kind, core_value, matches

DataPath = tuple[str | int, ...]

MAX_DEPTH = 64  # kind configs nest about 10 deep; a fleet file a little more
MAX_ALIAS_VALUES = 100_000  # what aliases may add to the file, in values
TEXT_MAPS = frozenset({"labels", "runtimeConfig"})  # string-valued maps, read as written
CORE = "tag:yaml.org,2002:"
SCALAR_TAGS: dict[str, ScalarKind] = {
    f"{CORE}{kind}": kind for kind in ("null", "bool", "int", "float", "str")
}
# First characters a YAML 1.2 core null, bool, int or float can have: anything else is text.
_MAYBE_TYPED = frozenset("~nNtTfF0123456789+-.")

# About 4,300 decimal digits: what Python turns into text, the most a message can quote.
_MAX_INT_BITS = 14_000


class TooBroken(Exception):
    """Reading cannot go on (a bomb, too deep, a second document): its problem is kept."""


class _Frame:
    """An open map or list, where it sits in its parent, and what it waits for."""

    __slots__ = (
        "anchor",
        "at",
        "is_map",
        "key",
        "key_line",
        "lines",
        "merges",
        "merging",
        "parent",
        "repeats",
        "size",
        "text_values",
        "value",
    )

    def __init__(
        self, is_map: bool, parent: _Frame | None, at: str | int, anchor: str | None
    ) -> None:
        self.is_map = is_map
        self.value: Any = {} if is_map else []
        self.parent = parent
        self.at = at  # its key or index in the parent
        self.anchor = anchor
        self.text_values = is_map and parent is not None and parent.is_map and at in TEXT_MAPS
        self.key: str | None = None  # a map's key waiting for its value
        self.key_line = 0
        self.lines: dict[str, int] = {}  # a map's keys -> the line each was written on
        self.merges: list[Any] | None = None  # `<<` values, merged when the map ends
        self.merging = False  # the waiting key is `<<`
        self.repeats: dict[str, list[int]] | None = None  # repeated keys -> their lines
        self.size = 1  # values in it, aliases expanded

    def path(self) -> DataPath:
        """Where this collection sits in the document (a top-level one has no parent)."""
        parts: list[str | int] = []
        frame: _Frame = self
        while frame.parent is not None:
            parts.append(frame.at)
            frame = frame.parent
        return tuple(reversed(parts))

    def child_at(self) -> str | int:
        return (self.key or "") if self.is_map else len(self.value)


class EventReader:
    """Feed it events (`feed`); read `documents`, `problems` and `texts` afterwards."""

    def __init__(
        self,
        repeated: str = "kind refuses repeated keys",
        *,
        noun: str = "fleet file",
        second_fix: str = "remove the `---` and what follows",
    ) -> None:
        self.repeated = repeated  # why a repeated key is refused, in the file's own terms
        self.noun = noun  # what the file is called, in messages
        self.second_fix = second_fix  # what to do with a second document
        self.problems: list[Problem] = []
        self.texts: dict[DataPath, str] = {}  # literal text of plain non-string scalars
        self.documents: list[Any] = []
        self.stack: list[_Frame] = []
        self._anchors: dict[str, tuple[Any, int]] = {}
        self._open_anchors: set[str] = set()
        self._alias_values = 0
        self._document_line = 1
        self._root = _Frame(False, None, 0, None)  # stands for "no parent": the document

    def feed(self, event: Any) -> None:
        kind = type(event)
        if kind is ev.ScalarEvent:
            self._scalar(event)
        elif kind is ev.MappingStartEvent or kind is ev.SequenceStartEvent:
            self._start(event, kind is ev.MappingStartEvent)
        elif kind is ev.MappingEndEvent or kind is ev.SequenceEndEvent:
            self._end()
        elif kind is ev.AliasEvent:
            self._alias(event)
        elif kind is ev.DocumentStartEvent:
            self._document_line = event.start_mark.line + 1
            self._anchors.clear()

    def path_here(self) -> DataPath:
        """Where the reader is: for syntax errors that stop it."""
        return self.stack[-1].path() if self.stack else ()

    # -- events ---------------------------------------------------------------------

    def _top(self) -> _Frame:
        return self.stack[-1] if self.stack else self._root

    def _scalar(self, event: Any) -> None:
        top = self._top()
        if top.is_map and top.key is None:
            self._key(top, event)
            return
        if top.text_values:
            if event.tag not in (None, "!") and event.tag not in SCALAR_TAGS:
                self._bad_tag(event.tag, top, event)
            value: Any = "" if self._is_null(event) else event.value
        else:
            value = self._typed(event, top)
        if event.anchor is not None:
            self._anchors[event.anchor] = (value, 1)
        self._attach(top, value, 1)

    def _start(self, event: Any, is_map: bool) -> None:
        top = self._top()
        if top is self._root:
            self._second_document()
        if top.is_map and top.key is None:
            self._stop(top, event, "a key must be a plain name, not a map or a list")
        if event.tag not in (None, "!", f"{CORE}map" if is_map else f"{CORE}seq"):
            self._bad_tag(event.tag, top, event)
        if len(self.stack) >= MAX_DEPTH:
            self._stop(top, event, f"nests deeper than {MAX_DEPTH} levels")
        if event.anchor is not None:
            self._open_anchors.add(event.anchor)
        parent = None if top is self._root else top
        self.stack.append(_Frame(is_map, parent, top.child_at(), event.anchor))

    def _end(self) -> None:
        frame = self.stack.pop()
        self._report_repeats(frame)
        if frame.merges:
            self._merge(frame)
        if frame.anchor is not None:
            self._open_anchors.discard(frame.anchor)
            self._anchors[frame.anchor] = (frame.value, frame.size)
        self._attach(self._top(), frame.value, frame.size)

    def _alias(self, event: Any) -> None:
        top = self._top()
        name = event.anchor
        if top.is_map and top.key is None:
            self._stop(top, event, "a key must be a plain name, not an alias")
        if name in self._open_anchors:
            self._stop(top, event, f"alias *{name} refers to a value that contains it")
        if name not in self._anchors:
            self._problem(top, event, f"alias *{name} has no anchor &{name} before it")
            self._attach(top, None, 1)
            return
        value, size = self._anchors[name]
        self._alias_values += size
        if self._alias_values > MAX_ALIAS_VALUES:
            self._stop(
                top,
                event,
                f"aliases expand the file by more than {MAX_ALIAS_VALUES:,} values "
                "(an alias bomb?)",
            )
        self._attach(top, value, size)

    # -- building -------------------------------------------------------------------

    def _key(self, frame: _Frame, event: Any) -> None:
        tag = event.tag
        frame.key = event.value  # keys are names: always their text
        frame.key_line = event.start_mark.line + 1
        frame.merging = event.value == "<<" and tag is None and bool(event.implicit[0])
        if tag is not None and tag != "!" and tag not in SCALAR_TAGS:
            self._bad_tag(tag, frame, event)

    def _attach(self, frame: _Frame, value: Any, size: int) -> None:
        if frame is self._root:
            if value is not None and not isinstance(value, dict | list):
                self._second_document()  # a collection was checked when it started
            self.documents.append(value)
            return
        frame.size += size
        if not frame.is_map:
            frame.value.append(value)
            return
        key = frame.key
        assert key is not None
        frame.key = None
        if frame.merging:
            frame.merging = False
            frame.merges = [*(frame.merges or ()), value]
            return
        first = frame.lines.get(key)
        if first is not None:  # reported when the map ends: once per key, with every line
            frame.repeats = frame.repeats or {}
            frame.repeats.setdefault(key, [first]).append(frame.key_line)
            return
        frame.lines[key] = frame.key_line
        frame.value[key] = value

    def finish(self) -> None:
        """Reading stopped early: report the repeated keys of the maps still open."""
        for frame in self.stack:
            self._report_repeats(frame)

    def _report_repeats(self, frame: _Frame) -> None:
        for key, lines in (frame.repeats or {}).items():
            if len(set(lines)) == 1:
                times = f"{_times(len(lines))} on line {lines[0]}"
            elif len(lines) == 2:
                times = f"twice (lines {lines[0]} and {lines[1]})"
            else:
                shown = lines if len(lines) <= 5 else [*lines[:4], "...", lines[-1]]
                times = f"{len(lines)} times (lines {', '.join(map(str, shown))})"
            self.problems.append(
                Problem(
                    format_path((*frame.path(), key)),
                    f"is written {times}; {self.repeated}",
                    "keep one of them",
                )
            )
        frame.repeats = None

    def _merge(self, frame: _Frame) -> None:
        """`<<: *defaults` (or a list of them): keys written here win, then earlier maps."""
        sources: list[Any] = []
        for merged in frame.merges or ():
            sources += merged if isinstance(merged, list) else [merged]
        for source in sources:
            if not isinstance(source, dict):
                self.problems.append(
                    Problem(
                        format_path((*frame.path(), "<<")),
                        "can only merge maps",
                        "write `<<: *anchor` where &anchor names a map",
                    )
                )
                continue
            for key, value in source.items():
                frame.value.setdefault(key, value)

    def _second_document(self) -> None:
        """A document gets a value: if an earlier one had one, the file holds two."""
        if any(doc is not None for doc in self.documents):
            self.problems.append(
                Problem(
                    "",
                    f"holds more than one YAML document (another starts at line "
                    f"{self._document_line}); a {self.noun} holds exactly one",
                    self.second_fix,
                )
            )
            raise TooBroken

    # -- scalars --------------------------------------------------------------------

    @staticmethod
    def _is_null(event: Any) -> bool:
        if event.tag is None:
            return bool(event.implicit[0]) and core_kind(event.value) == "null"
        return bool(event.tag == f"{CORE}null")

    def _typed(self, event: Any, top: _Frame) -> Any:
        text: str = event.value
        tag = event.tag
        if tag is None:
            if not event.implicit[0] or (text and text[0] not in _MAYBE_TYPED):
                return text  # quoted, or plain text that no core type starts like
            found = core_kind(text)
            if found != "str" and top is not self._root:
                self.texts[(*top.path(), top.child_at())] = text
            return self._value(text, found, top, event)
        if tag == "!":
            return text
        kind = SCALAR_TAGS.get(tag)
        if kind is None:
            self._bad_tag(tag, top, event)
            return text
        if not matches(text, kind):
            shown = f"!!{kind} {text}".strip()
            self._problem(top, event, f"{shown!r} is not a valid {kind}", "remove the tag")
            return text
        return self._value(text, kind, top, event)

    def _value(self, text: str, kind: ScalarKind, top: _Frame, event: Any) -> Any:
        try:
            value = core_value(text, kind)
        except ValueError:  # Python will not turn 4,300 digits or more into an int
            value = None
        else:  # nor, from 0x or 0o, print one of that size (a message quoting it fails)
            if not (isinstance(value, int) and value.bit_length() > _MAX_INT_BITS):
                return value
        self._problem(top, event, f"is a number of {len(text):,} digits", "write a real value")
        return None

    # -- problems -------------------------------------------------------------------

    def _bad_tag(self, tag: str, top: _Frame, event: Any) -> None:
        shown = "!!" + tag.removeprefix(CORE) if tag.startswith(CORE) else tag
        self._problem(
            top,
            event,
            f"the tag {shown} is not used in {self.noun}s",
            "remove it (to force a string, quote the value)",
        )

    def _problem(self, top: _Frame, event: Any, message: str, fix: str | None = None) -> None:
        """A problem with the value about to be attached to `top`."""
        where = f"line {event.start_mark.line + 1}"
        path = format_path((*top.path(), top.child_at())) if top is not self._root else ""
        self.problems.append(Problem(path or where, f"{message} ({where})", fix))

    def _stop(self, top: _Frame, event: Any, message: str) -> None:
        self._problem(top, event, message)
        raise TooBroken


def _times(count: int) -> str:
    return "twice" if count == 2 else f"{count} times"
