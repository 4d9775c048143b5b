"""How the CLI speaks: data to stdout (table, JSON or YAML), messages to stderr.

A script piping `-o json` gets the data and nothing else; a person gets a table and
one-line messages. Errors are one red line plus a hint, never a traceback (unless --debug).
"""

from __future__ import annotations

import enum
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from rich.console import Console

    out: Console  # data, to stdout
    err: Console  # messages, to stderr


def console(name: str) -> Console:
    """`out` or `err`, made on first use: rich costs a command that prints nothing."""
    made: Console | None = globals().get(f"_{name}")
    if made is None:
        from rich.console import Console

        stream = sys.stderr if name == "err" else sys.stdout
        # Off a terminal (pipes, CI logs) tables keep their full width, not 80 columns.
        width = None if stream.isatty() else 1000
        # No emoji codes: a ":100:" quoted from a run's message is text, not a picture.
        made = Console(stderr=name == "err", soft_wrap=True, width=width, emoji=False)
        globals()[f"_{name}"] = made
    return made


def __getattr__(name: str) -> Console:
    if name not in ("out", "err"):
        raise AttributeError(name)
    return console(name)


class Format(enum.StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


class DataFormat(enum.StrEnum):
    yaml = "yaml"
    json = "json"


def plain(data: Any) -> Any:
    """Tuples, mapping proxies and the like as plain JSON-able data."""
    return json.loads(json.dumps(data, default=str))


def emit(data: Any, fmt: Format | DataFormat) -> None:
    if fmt.value == "json":
        sys.stdout.write(json.dumps(plain(data), indent=2) + "\n")
    else:
        import yaml

        sys.stdout.write(yaml.safe_dump(plain(data), sort_keys=False))


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Columns as kubectl prints them: left-aligned, two spaces apart, one line per row
    whatever the terminal's width (so `grep` and `awk` see whole rows), cells as written
    (a `[name]` in a cell is text, not markup). No rich: a table costs no start-up."""
    cells = [[_cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in [list(columns), *cells]) for i in range(len(columns))]
    lines = [title] if title else []
    for row in [list(columns), *cells]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    sys.stdout.write("\n".join(lines) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return printable(str(value).replace("\r", " ").replace("\n", " ").replace("\t", " "))


# Control characters other than tab and newline, DEL and the C1 controls: what a spoke's
# message or a workload's field could use to drive the reader's terminal (an escape
# sequence retitles the window, clears the screen or forges the lines above it) is shown
# as the escape it is, as `repr` would.
# The bidirectional overrides and isolates too: they reorder what follows on the line.
_UNPRINTABLE = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
_UNPRINTABLE |= {c: f"\\u{c:04x}" for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]}
del _UNPRINTABLE[0x09], _UNPRINTABLE[0x0A]


def printable(text: str) -> str:
    return text.translate(_UNPRINTABLE)


def labels(values: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in values.items())


# Messages are one line each, coloured where rich would colour them (a terminal, no
# NO_COLOR, not TERM=dumb; FORCE_COLOR forces it), written without rich: importing it
# cost `validate` a fifth of its start-up for a tick and a word (issue 17).
_STYLE = {"red": "31", "green": "32", "yellow": "33", "dim": "2"}


def _paint(word: str, style: str) -> str:
    stream = sys.stderr
    if os.environ.get("NO_COLOR") or os.environ.get("TERM", "").lower() in ("dumb", "unknown"):
        return word
    if not os.environ.get("FORCE_COLOR") and not (hasattr(stream, "isatty") and stream.isatty()):
        return word
    return f"\x1b[{_STYLE[style]}m{word}\x1b[0m"


# What rich took out of a message: bell, backspace, vertical tab, form feed, carriage
# return (a line that rewrites itself or the terminal's bell is not a message).
_CONTROL = dict.fromkeys((7, 8, 11, 12, 13))


def _say(line: str) -> None:
    text = line + "\n"
    stream = sys.stderr
    try:
        stream.write(text)
    except UnicodeEncodeError:  # a stream that cannot say it: escaped, not a crash
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
    stream.flush()


def _clean(message: str) -> str:
    return printable(message.translate(_CONTROL))


def info(message: str) -> None:
    _say(_clean(message))


def warn(message: str) -> None:
    _say(f"{_paint('warning:', 'yellow')} {_clean(message)}")


def success(message: str) -> None:
    _say(f"{_paint('✓', 'green')} {_clean(message)}")


def error(message: str, hint: str | None = None) -> None:
    _say(f"{_paint('error:', 'red')} {_clean(message)}")
    if hint:
        _say(f"  {_paint('hint:', 'dim')} {_clean(hint)}")


def writable(path: Path, option: str) -> None:
    """Refuse, before the work begins, a file its results could not be written to: a
    directory, or a place no file can be made (`check --junit DIR` ran every suite first
    and then failed as "a bug", its results lost)."""
    from kindfleet.errors import UsageError

    hint = f"give a file in a directory you can write, e.g. {option} results/{path.name or 'out'}"
    if path.is_dir():
        raise UsageError(f"{option} {path} is a directory", hint=hint)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"{option} {path}: cannot make {path.parent} ({exc.strerror or exc})", hint=hint
        ) from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"{option} {path} cannot be written here", hint=hint)


def write_file(path: Path, text: str, option: str) -> bool:
    """Write a result file once the results are shown; a failure is said (they are above)
    and is False, not a traceback that hides them."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        error(f"{option} {path}: cannot write it ({exc.strerror or exc})", "the results are above")
        return False
    return True
