"""Bounded parallelism that a Ctrl-C can stop.

Work runs in a thread pool of `limit` workers. The calling (main) thread waits in short
slices so that a KeyboardInterrupt reaches it promptly; it then calls `on_interrupt`
(which kills the commands in flight), waits for the workers to wind down and re-raises,
leaving the cleanup to the caller, who knows what was half-made.
"""

from __future__ import annotations

import concurrent.futures as cf
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
    futures: dict[cf.Future[R], str] = {}
    try:  # from the first submission: a Ctrl-C while the rest are handed out waits too
        for item in items:
            futures[pool.submit(work, item)] = key(item)
        pending = set(futures)
        while pending:
            _, pending = cf.wait(pending, timeout=_SLICE_SECONDS)
    except KeyboardInterrupt:
        for future in futures:
            future.cancel()
        on_interrupt()
        cf.wait(futures, timeout=_WIND_DOWN_SECONDS)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    out: dict[str, R | BaseException] = {}
    for future, name in futures.items():
        error = future.exception()
        out[name] = error if error is not None else future.result()
    ordered = [key(item) for item in items]
    return {name: out[name] for name in ordered}
