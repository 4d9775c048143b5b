"""Ordered small steps over one context, one progress line each: what `up` runs for every
cluster and `deploy` runs for the fleet, in the manner of KIND's create actions.

A step says what a person reads, whether it applies here, and what it does; the runner
emits ` • start`, ` ✓ done (seconds): note` or ` ✗ failed: first line of the error`, stops
at the first failure (re-raising it as it was, so callers still catch by meaning), and
turns a failure caused by Ctrl-C into one "interrupted" line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from kindfleet.errors import KindfleetError
from kindfleet.exec import Interrupted
from kindfleet.lifecycle.events import Emits

C = TypeVar("C")


@dataclass(frozen=True)
class Step(Generic[C]):
    key: str
    title: Callable[[C], str]
    applies: Callable[[C], bool]
    run: Callable[[C], str | None]  # a short note for the progress line
    own_lines: bool = False  # the step reports itself (e.g. one line per cluster)


def always(ctx: object) -> bool:
    return True


def run_steps(
    ctx: C,
    steps: Sequence[Step[C]],
    *,
    emits: Emits,
    clock: Callable[[], float],
    where: str,
    cancelled: Callable[[], bool] = lambda: False,
) -> None:
    """Every step of `steps` that applies to `ctx`, in order, reported under `where` (a
    cluster, or the fleet)."""
    title = ""
    try:
        for step in steps:
            if not step.applies(ctx):
                continue
            if cancelled():
                raise Interrupted("interrupted")
            title = step.title(ctx)
            if step.own_lines:
                step.run(ctx)
                continue
            emits.emit(where, title, "start")
            began = clock()
            try:
                note = step.run(ctx)
            except Interrupted:
                raise
            except KindfleetError as exc:
                if cancelled():  # the failure is the interrupt's doing
                    raise Interrupted("interrupted") from exc
                first = exc.message.splitlines()[0] if exc.message else type(exc).__name__
                emits.emit(where, title, "fail", first, seconds=clock() - began)
                raise
            emits.emit(where, title, "done", note or "", seconds=clock() - began)
        if cancelled():  # the last step ended after the interrupt: not done before it
            title = "done after the interrupt"
            raise Interrupted("interrupted")
    except Interrupted:
        emits.emit(where, title or "waiting", "fail", "interrupted", final=True)
        raise
