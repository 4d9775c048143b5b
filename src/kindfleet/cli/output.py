"""How the CLI speaks: data to stdout (table, JSON or YAML), messages to stderr.

A script piping `-o json` gets the data and nothing else; a person gets a table and
one-line messages. Errors are one red line plus a hint, never a traceback (unless --debug).
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
        made = Console(stderr=name == "err", soft_wrap=True, width=width)
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
    return "" if value is None else str(value).replace("\r", " ").replace("\n", " ")


def labels(values: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in values.items())


def _text(message: str) -> str:
    """A message as written: `[ERROR KubernetesVersion]`, `[init]` are words, not markup."""
    from rich.markup import escape

    return escape(message)


def info(message: str) -> None:
    console("err").print(_text(message), highlight=False)


def warn(message: str) -> None:
    console("err").print(f"[yellow]warning:[/] {_text(message)}", highlight=False)


def success(message: str) -> None:
    console("err").print(f"[green]✓[/] {_text(message)}", highlight=False)


def error(message: str, hint: str | None = None) -> None:
    console("err").print(f"[red]error:[/] {_text(message)}", highlight=False, markup=True)
    if hint:
        console("err").print(f"  [dim]hint:[/] {_text(hint)}", highlight=False)
