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
exception.

A commit the disk refuses (full, an I/O error, a lock another process holds) is not a
change's failure but the spoke's: the transaction is rolled back and tried again, all of
it, until the disk takes it, and meanwhile nothing waiting on it goes on (a run is not
started before its accept is durable; a finished run's report waits for its record). A
spoke whose disk filled up then carries on once space is freed, with no run forgotten.
Failing those changes instead left each run's supervisor without its terminal record: the
hub saw the runs Running for ever. Only closing the journal gives up on such a commit.
Any other error (a constraint, a corrupt file) fails every change in the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from kindfleet.platform.agent import db, logs

T = TypeVar("T")
B = TypeVar("B", bound="Batch")
log = logs.get("journal")

# SQLite's primary result codes for a disk that may take the same commit later.
_RETRIED = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_BUSY,
                      sqlite3.SQLITE_LOCKED})  # fmt: skip
RETRY_FIRST, RETRY_MAX = 0.05, 2.0  # seconds between attempts, doubling
REMIND_EVERY = 300.0  # seconds between log lines while the disk goes on refusing
_CHECK_DISK = "Check the disk of the state directory"
_WHAT_TO_DO = {
    sqlite3.SQLITE_FULL: "Free space on the disk of the state directory",
    sqlite3.SQLITE_BUSY: "Another process holds the database's lock: stop it",
    sqlite3.SQLITE_LOCKED: "Another process holds the database's lock: stop it",
}


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
        self._closing = threading.Event()  # stop retrying a commit the disk refuses
        self.refusing = False  # the disk refuses the commit on its way (set by the writer)

    def submit(self, apply: Callable[[B], T]) -> asyncio.Future[T]:
        """Queue a change; the future completes once it is committed. Call from the event
        loop. Nobody has to await it: a failure is logged either way."""
        loop = asyncio.get_running_loop()
        if self._closing.is_set():  # a run's task that outlived the stop: nothing to write to
            closed: asyncio.Future[T] = loop.create_future()
            closed.set_exception(JournalClosed("the agent's database is closed"))
            closed.exception()  # nobody has to await it
            return closed
        if self._thread is None:
            self._loop = loop
            self._thread = threading.Thread(target=self._write, name="agent-db", daemon=True)
            self._thread.start()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Change(apply, future))
        return future

    @property
    def closing(self) -> bool:
        """Closed, or closing: a change not committed by now is given up."""
        return self._closing.is_set()

    async def settled(self) -> None:
        """Once every change submitted before this call is committed (or has failed): a
        change's waiter may have been cancelled, its change is committed anyway, later."""
        if self._thread is not None:
            with contextlib.suppress(Exception):  # a failed commit is logged where it fails
                await self.submit(lambda batch: None)

    async def close(self) -> None:
        """Commit what is queued, then stop the writer. A commit the disk keeps refusing is
        tried once more, then given up (its changes fail): the agent is stopping."""
        if self._thread is not None:
            self._closing.set()
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
                try:
                    conn, results = self._commit_until_taken(conn, changes)
                except Exception as exc:  # the last resort: see _commit_until_taken
                    log.exception("the agent's database writer failed")
                    results = [(False, exc)] * len(changes)
                self.commits += 1
                self.changes += len(changes)
                assert self._loop is not None
                self._loop.call_soon_threadsafe(self._resolve, changes, results)
                if stop:
                    return
        finally:
            conn.close()

    def _resolve(self, changes: list[_Change[B, Any]], results: list[tuple[bool, Any]]) -> None:
        failed: dict[str, int] = {}
        for change, (ok, value) in zip(changes, results, strict=True):
            if not ok:
                failed[str(value)] = failed.get(str(value), 0) + 1
            if change.future.done():  # cancelled by its waiter: committed anyway
                continue
            if ok:
                change.future.set_result(value)
            else:
                change.future.set_exception(value)
                change.future.exception()  # logged below: no "never retrieved" if not awaited
        for message, count in failed.items():  # a commit given up fails many changes alike
            log.error("%d change(s) to the agent's database failed: %s", count, message)
        self.committed()

    def _commit_until_taken(
        self, conn: sqlite3.Connection, changes: list[_Change[B, Any]]
    ) -> tuple[sqlite3.Connection, list[tuple[bool, Any]]]:
        """Commit `changes`, again and again while the disk refuses them (the connection is
        opened anew after a failed rollback). The connection to go on with, and results."""
        since: float | None = None
        reminded = 0.0
        delay = RETRY_FIRST
        while True:
            try:
                results = self._commit(conn, changes)
            except _Refused as refused:
                if self._closing.is_set():
                    log.error("giving up %d change(s) on stopping: %s", len(changes), refused)
                    return conn, [(False, refused.error)] * len(changes)
                self.refusing = True
                if since is None:
                    since = reminded = time.monotonic()
                    log.error(
                        "the agent's database cannot be written (%s): %d change(s) wait and "
                        "are retried; runs are not started and finished runs not reported "
                        "until it can. %s (%s)",
                        refused,
                        len(changes),
                        _WHAT_TO_DO.get(_primary(refused.error), _CHECK_DISK),
                        self.path.parent,
                    )
                elif time.monotonic() - reminded >= REMIND_EVERY:
                    reminded = time.monotonic()
                    log.error(
                        "the agent's database still cannot be written, after %.0fs (%s)",
                        reminded - since,
                        refused,
                    )
                if refused.reopen:
                    conn = _reopened(conn, self.path)
                self._closing.wait(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            except Exception as exc:
                # A failure of the writer's own (not the disk's, not a change's): these
                # changes fail, and the writer lives on. Its end left every later change
                # waiting for ever: no run accepted, none reported, nothing said.
                log.exception("the agent's database writer failed")
                _rollback(conn)
                self.refusing = False
                return conn, [(False, exc)] * len(changes)
            if since is not None:
                self.refusing = False
                log.warning(
                    "the agent's database is written again, after %.1fs",
                    time.monotonic() - since,
                )
            return conn, results

    def _commit(
        self, conn: sqlite3.Connection, changes: list[_Change[B, Any]]
    ) -> list[tuple[bool, Any]]:
        """Raises _Refused when the disk refused the transaction (rolled back, or not)."""
        results: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            batch = self.batch(conn)
            for change in changes:
                mark = batch.mark()
                try:
                    results.append((True, change.apply(batch)))
                except sqlite3.Error as exc:
                    if _primary(exc) in _RETRIED:
                        raise  # the disk's refusal, not this change's: all of it again
                    batch.undo(mark)
                    results.append((False, exc))
                except Exception as exc:
                    batch.undo(mark)
                    results.append((False, exc))
            batch.write()
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            rolled_back = _rollback(conn)
            if _primary(exc) in _RETRIED or not rolled_back:
                raise _Refused(exc, reopen=not rolled_back) from exc
            return [(False, exc)] * len(changes)
        return results


class JournalClosed(RuntimeError):
    """A change submitted after the journal was closed."""


class _Refused(Exception):
    def __init__(self, error: sqlite3.Error, *, reopen: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.reopen = reopen


def _primary(exc: sqlite3.Error) -> int:
    """SQLite's primary result code of an error (an extended code's low byte)."""
    return int(getattr(exc, "sqlite_errorcode", 0)) & 0xFF


def _rollback(conn: sqlite3.Connection) -> bool:
    """Whether the connection is out of any transaction (a rollback can fail too)."""
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        return False
    return True


def _reopened(conn: sqlite3.Connection, path: Path) -> sqlite3.Connection:
    with contextlib.suppress(sqlite3.Error):
        conn.close()
    try:
        return db.connect(path, writer=True)
    except sqlite3.Error:
        return conn  # closed: the next attempt fails and comes back here


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
