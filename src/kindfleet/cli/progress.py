"""Progress of work on many clusters at once, as KIND shows one cluster's: on a terminal one
live line per cluster (a spinner while it works, its step and clock), in CI logs and pipes
one plain line per finished step (` ✓ cluster: step (12.3s)`), never interleaved.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from kindfleet.cli import output
from kindfleet.lifecycle import Event, Reporter
from kindfleet.lifecycle.events import Board, plain_line


class PlainProgress:
    """One line per step, never interleaved (CI logs, pipes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        line = plain_line(event)
        if line is not None:
            with self._lock:
                output.err.print(line, highlight=False, markup=False)


_ICONS = {"done": "[green]✓[/]", "failed": "[red]✗[/]", "waiting": "[dim]·[/]"}


class LiveProgress:
    """One line per cluster, redrawn in place; fleet-wide events print above it."""

    def __init__(self, clusters: list[str]) -> None:
        self.board = Board(clusters)
        self.spinners = {c: Spinner("dots", style="cyan") for c in clusters}
        self.began: dict[str, float] = {}
        self.took: dict[str, float] = {}
        self.live = Live(console=output.err, refresh_per_second=8, get_renderable=self.render)

    def __call__(self, event: Event) -> None:
        if event.cluster:
            self.began.setdefault(event.cluster, time.monotonic())
            if event.final and event.seconds is not None:
                self.took[event.cluster] = event.seconds
        self.board.apply(event)
        if not event.cluster or event.phase == "warn":
            line = plain_line(event)
            if line and event.phase != "start":
                self.live.console.print(line, highlight=False, markup=False)

    def render(self) -> RenderableType:
        table = Table.grid(padding=(0, 1))
        for row in self.board.rows():
            icon: RenderableType = (
                self.spinners.setdefault(row.cluster, Spinner("dots"))
                if row.state == "running"
                else Text.from_markup(_ICONS.get(row.state, " "))
            )
            began = self.began.get(row.cluster)
            seconds = self.took.get(row.cluster, time.monotonic() - began if began else 0.0)
            clock = f"{seconds:5.1f}s" if began else ""
            detail = f"[dim]{escape(row.message)}[/]" if row.message else ""
            table.add_row(icon, Text(row.cluster, style="bold"), row.step, clock, detail)
        return Group(table)

    @contextmanager
    def running(self) -> Iterator[LiveProgress]:
        with self.live:
            yield self


@contextmanager
def progress(clusters: list[str]) -> Iterator[Reporter]:
    smart = output.err.is_terminal and not os.environ.get("CI")
    if not smart:
        yield PlainProgress()
        return
    live = LiveProgress(clusters)
    with live.running():
        yield live
