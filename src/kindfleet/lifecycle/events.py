"""Progress as events: what a step started, finished, failed or noted, per cluster.

Workers in parallel threads emit events; the caller decides how to show them (the CLI:
one live line per cluster on a terminal, one plain line per finished step otherwise).
`Board` is the pure bookkeeping behind a live view, so it can be tested without one.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Phase = Literal["start", "done", "fail", "note", "warn"]
FLEET = ""  # the `cluster` of fleet-wide events (preflight, registry, kubeconfig)


@dataclass(frozen=True)
class Event:
    cluster: str  # FLEET for fleet-wide steps
    step: str  # what a person reads: "creating", "installing Calico v3.32.1", ...
    phase: Phase
    message: str = ""
    seconds: float | None = None  # for done / fail: how long the step took
    final: bool = False  # done / fail of the cluster as a whole, not of one step

    @property
    def subject(self) -> str:
        return self.cluster or "fleet"


Reporter = Callable[[Event], None]


class Emits:
    """What a run's context needs to speak: its reporter, and one way to build events."""

    report: Reporter

    def emit(
        self,
        cluster: str,
        step: str,
        phase: Phase,
        message: str = "",
        *,
        seconds: float | None = None,
        final: bool = False,
    ) -> None:
        with contextlib.suppress(OSError):  # its output gone (a closed terminal): work on
            self.report(Event(cluster or FLEET, step, phase, message, seconds, final))


def ignore(event: Event) -> None:
    """The reporter of callers that do not watch progress."""


def plain_line(event: Event) -> str | None:
    """KIND's style without a terminal: ` • hub: creating ...` when a step starts,
    ` ✓ hub: creating (41.2s)` when it is done, ` ✗` when it failed."""
    took = f" ({event.seconds:.1f}s)" if event.seconds is not None else ""
    detail = f": {event.message}" if event.message else ""
    if event.phase == "start":
        return f" • {event.subject}: {event.step} ..."
    if event.phase == "done":
        return f" ✓ {event.subject}: {event.step}{took}{detail}"
    if event.phase == "fail":
        return f" ✗ {event.subject}: {event.step}{took}{detail}"
    if event.phase == "note":
        return f"   {event.subject}: {event.message or event.step}"
    if event.phase == "warn":
        return f" ! {event.subject}: {event.message or event.step}"
    return None


@dataclass
class Row:
    cluster: str
    step: str = "waiting"
    state: Literal["waiting", "running", "done", "failed"] = "waiting"
    message: str = ""
    steps_done: list[str] = field(default_factory=list)


class Board:
    """The latest state of each cluster, for a live view (thread-safe)."""

    def __init__(self, clusters: Sequence[str] = ()) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, Row] = {c: Row(c) for c in clusters}

    def apply(self, event: Event) -> None:
        if not event.cluster:
            return
        with self._lock:
            row = self._rows.setdefault(event.cluster, Row(event.cluster))
            if event.phase == "start":
                row.step, row.state, row.message = event.step, "running", ""
            elif event.phase == "done" and event.final:
                row.step, row.state, row.message = event.step, "done", event.message
            elif event.phase == "done":
                row.steps_done.append(event.step)
                row.step, row.message = event.step, event.message
            elif event.phase == "fail":
                row.step, row.state, row.message = event.step, "failed", event.message
            elif event.phase in ("note", "warn"):
                row.message = event.message

    def rows(self) -> list[Row]:
        with self._lock:
            return [
                Row(r.cluster, r.step, r.state, r.message, list(r.steps_done))
                for r in self._rows.values()
            ]
