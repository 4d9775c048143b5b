"""Group commit for the agent's database: every change queued while a commit is on its way
to disk goes into the next commit, together. A busy spoke then pays one fsync for a batch of
events (accepted, started, finished of many runs) instead of one per event, and nothing is
weaker for it: a change's future completes only once the transaction that holds it is
committed (WAL, synchronous=FULL).

The writer is a thread with its own connection, so the event loop goes on launching and
reporting while a commit waits for the disk. Changes do not execute statements one by one:
each adds rows to the transaction's write set (`Batch`, records.py), which writes them all
at once (one `executemany` per statement) before the commit. Changes run in the order they
were submitted; one that raises is undone alone (its rows dropped) and its future gets the
exception; a commit that fails fails every change in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from kindfleet.platform.agent import db, logs

T = TypeVar("T")
B = TypeVar("B", bound="Batch")
log = logs.get("journal")


class Batch(Protocol):
    """What one transaction writes, gathered from its changes."""

    def mark(self) -> object:
        """A point to `undo` to, taken before each change."""
        ...

    def undo(self, mark: object) -> None: ...

    def write(self) -> None:
        """Execute what was gathered (inside the open transaction)."""
        ...


@dataclass(eq=False)
class _Change(Generic[B, T]):
    apply: Callable[[B], T]
    future: asyncio.Future[T]


class Journal(Generic[B]):
    def __init__(
        self,
        path: Path,
        batch: Callable[[sqlite3.Connection], B],
        *,
        committed: Callable[[], None] = lambda: None,
    ) -> None:
        self.path = path
        self.batch = batch
        self.committed = committed  # called once per commit, after its futures are resolved
        self.commits = 0  # transactions committed (for figures: changes / commits)
        self.changes = 0
        self._queue: queue.SimpleQueue[_Change[B, Any] | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def submit(self, apply: Callable[[B], T]) -> asyncio.Future[T]:
        """Queue a change; the future completes once it is committed. Call from the event
        loop. Nobody has to await it: a failure is logged either way."""
        loop = asyncio.get_running_loop()
        if self._thread is None:
            self._loop = loop
            self._thread = threading.Thread(target=self._write, name="agent-db", daemon=True)
            self._thread.start()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Change(apply, future))
        return future

    async def settled(self) -> None:
        """Once every change submitted before this call is committed (or has failed): a
        change's waiter may have been cancelled, its change is committed anyway, later."""
        if self._thread is not None:
            with contextlib.suppress(Exception):  # a failed commit is logged where it fails
                await self.submit(lambda batch: None)

    async def close(self) -> None:
        """Commit what is queued, then stop the writer."""
        if self._thread is not None:
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    def _write(self) -> None:
        conn = db.connect(self.path, writer=True)
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                changes, stop = _drain(self._queue, first)
                results = self._commit(conn, changes)
                self.commits += 1
                self.changes += len(changes)
                assert self._loop is not None
                self._loop.call_soon_threadsafe(self._resolve, changes, results)
                if stop:
                    return
        finally:
            conn.close()

    def _resolve(self, changes: list[_Change[B, Any]], results: list[tuple[bool, Any]]) -> None:
        for change, (ok, value) in zip(changes, results, strict=True):
            if change.future.done():  # cancelled by its waiter: committed anyway
                continue
            if ok:
                change.future.set_result(value)
            else:
                log.error("a change to the agent's database failed: %s", value)
                change.future.set_exception(value)
                change.future.exception()  # logged: no "never retrieved" if nobody awaits it
        self.committed()

    def _commit(
        self, conn: sqlite3.Connection, changes: list[_Change[B, Any]]
    ) -> list[tuple[bool, Any]]:
        results: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            batch = self.batch(conn)
            for change in changes:
                mark = batch.mark()
                try:
                    results.append((True, change.apply(batch)))
                except Exception as exc:
                    batch.undo(mark)
                    results.append((False, exc))
            batch.write()
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return [(False, exc)] * len(changes)
        return results


def _drain(
    q: queue.SimpleQueue[_Change[B, Any] | None], first: _Change[B, Any]
) -> tuple[list[_Change[B, Any]], bool]:
    changes = [first]
    while True:
        try:
            item = q.get_nowait()
        except queue.Empty:
            return changes, False
        if item is None:
            return changes, True
        changes.append(item)
