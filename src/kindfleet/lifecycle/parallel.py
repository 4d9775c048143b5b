"""Bounded parallelism that a Ctrl-C can stop.

Work runs in a thread pool of `limit` workers. The calling (main) thread waits in short
slices so that a KeyboardInterrupt reaches it promptly; it then calls `on_interrupt`
(which kills the commands in flight), waits for the workers to wind down and re-raises,
leaving the cleanup to the caller, who knows what was half-made.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_SLICE_SECONDS = 0.1
_WIND_DOWN_SECONDS = 60.0


def run_parallel(
    items: Sequence[T],
    work: Callable[[T], R],
    *,
    limit: int,
    key: Callable[[T], str],
    on_interrupt: Callable[[], None] = lambda: None,
) -> dict[str, R | BaseException]:
    """`work(item)` for every item, at most `limit` at a time; a result or the exception
    raised, by `key(item)`, in the order of `items`."""
    if not items:
        return {}
    pool = cf.ThreadPoolExecutor(max_workers=max(1, min(limit, len(items))))
    busy = _Busy()
    futures: dict[cf.Future[R], str] = {}
    try:  # from the first submission: a Ctrl-C while the rest are handed out waits too
        for item in items:
            futures[pool.submit(busy.doing, work, item)] = key(item)
        pending = set(futures)
        while pending:
            _, pending = cf.wait(pending, timeout=_SLICE_SECONDS)
    except KeyboardInterrupt:
        # What has not started never will; what has is waited for, by the workers' own
        # count: a Ctrl-C landing inside `submit` left a started item's future unknown
        # here, and `up` went on to its clean-up while that item still ran.
        pool.shutdown(wait=False, cancel_futures=True)
        busy.close()
        on_interrupt()
        busy.wait_idle(_WIND_DOWN_SECONDS)
        raise
    pool.shutdown(wait=True)
    out: dict[str, R | BaseException] = {}
    for future, name in futures.items():
        error = future.exception()
        out[name] = error if error is not None else future.result()
    ordered = [key(item) for item in items]
    return {name: out[name] for name in ordered}


class _Busy:
    """How many work items are running, counted by the workers themselves; once closed,
    an item a worker had taken from the queue but not begun does not begin."""

    def __init__(self) -> None:
        self._count = 0
        self._closed = False
        self._changed = threading.Condition()

    def doing(self, work: Callable[[T], R], item: T) -> R:
        with self._changed:
            if self._closed:
                raise cf.CancelledError("interrupted before it began")
            self._count += 1
        try:
            return work(item)
        finally:
            with self._changed:
                self._count -= 1
                self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self._closed = True

    def wait_idle(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._count == 0, timeout)
