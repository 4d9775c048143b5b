"""Group commit: one thread owns the database connection and commits many jobs at once.

"A 2xx means durably stored" costs one fsync per commit. Paying it per request caps a
hub at a few hundred submissions a second; paying it per *group* of whatever requests
arrived while the previous commit was on disk does not. So every store operation is a
job (a plain function of a Connection) handed to this one writer; it drains the queue,
runs the jobs in one transaction, commits (fsync), and only then resolves each caller's
future. Under load groups grow by themselves; when idle a group is one job.

Jobs signal a refusal (not found, conflict) by raising `Refusal` *before* they write, so
the rest of the group still commits. Any other exception rolls the group back and each
job is run again alone, so one bad job cannot fail its neighbours.

Urgent jobs (a spoke renewing its lease, taking its work, reporting) never wait behind a
queue of ordinary ones: while any is queued, the next group holds urgent jobs only. A job
may register `after_commit` callbacks: they run on this thread once its transaction is
committed (and never if it is rolled back), which is how in-memory indexes follow the
store without ever running ahead of it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from kindfleet.platform.repeats import Repeats, first_line
from kindfleet.platform.store.engine import WROTE, StoreUnavailable

log = logging.getLogger("kindfleet.hub.store")
# A PostgreSQL transaction of the writer that has waited this long on the server is cut
# (its connection shut down): the read engine's statements stop at 30 s on the server.
STALL_SECONDS = 60.0
_failures = Repeats(log)

I = TypeVar("I")  # noqa: E741 - item
R = TypeVar("R")
I_contra = TypeVar("I_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)


class Refusal(Exception):
    """Raised by a job that decided not to write anything (e.g. 404, 409)."""


class BatchHandler(Protocol[I_contra, R_co]):
    """Handles all items of its kind in one group at once (e.g. many submissions)."""

    def __call__(
        self, conn: Connection, items: Sequence[I_contra], /
    ) -> Sequence[R_co | Refusal]: ...


@dataclass(eq=False)
class _Job:
    future: asyncio.Future[Any]
    fn: Callable[[Connection], Any] | None = None
    handler: BatchHandler[Any, Any] | None = None
    item: Any = None
    outcome: tuple[Any, BaseException | None] = field(default=(None, None))
    urgent: bool = False


_HOOKS = "kf_after_commit"


def _note_write(
    conn: Connection, _cursor: Any, _sql: Any, _params: Any, context: Any, _many: Any
) -> None:
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        conn.info[WROTE] = True


def after_commit(conn: Connection, callback: Callable[[], None]) -> None:
    """Run `callback` on the writer thread once the current transaction is committed."""
    conn.info.setdefault(_HOOKS, []).append(callback)


class _Stop:
    pass


_STOP = _Stop()
GroupObserver = Callable[[int, float], None]  # (jobs in the group, seconds to commit)
HealthObserver = Callable[[bool], None]  # after each commit attempt: did the store commit?


class Writer:
    def __init__(
        self,
        engine: Engine,
        *,
        on_connect: Callable[[Connection], None] | None = None,
        on_group: GroupObserver | None = None,
        on_health: HealthObserver | None = None,
        before_commit: Callable[[], None] | None = None,
        between_groups: Callable[[Connection], None] | None = None,
        max_group: int = 2000,
        stall_seconds: float = STALL_SECONDS,
    ) -> None:
        self._engine = engine
        self._stall = stall_seconds
        self._busy_since: float | None = None  # when the transaction on its way began
        self._connecting: Connection | None = None  # a new connection, before it is ready
        # A server's connection can go silent without closing (a proxy or pooler that
        # hangs, a middlebox that keeps acknowledging): the writer then waited for ever, and
        # every write of the hub behind it. The watchdog cuts such a connection.
        self._watchdog = (
            threading.Thread(target=self._watch, name="kf-store-watchdog", daemon=True)
            if engine.dialect.name == "postgresql"
            else None
        )
        self._on_connect = on_connect
        self._on_group = on_group
        self._on_health = on_health
        self._before_commit = before_commit  # raises to refuse the commit (store gone)
        self._between_groups = between_groups  # once a group is answered, no transaction open
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Job | _Stop] = queue.SimpleQueue()
        self._urgent: collections.deque[_Job] = collections.deque()
        self._conn: Connection | None = None
        self._thread = threading.Thread(target=self._loop, name="kf-store-writer", daemon=True)
        # Transactions ended, committed or not: read from the event loop, it says whether
        # the store may have changed since (hub/service/bodies.py). Raised once the end is
        # visible to other connections and before any job of the group is answered.
        self.transactions = 0
        # A commit whose outcome is unknown (the connection dropped while it was on its
        # way: PostgreSQL may have made it durable): what the after-commit hooks keep in
        # memory (the pending queue, credentials) may now differ from the store. `resync`
        # rebuilds it from the store, in a transaction of its own, before the next group.
        self.resync: Callable[[Connection], None] | None = None
        self.unsure = False
        self._closed = False  # closing: no new job
        self._ended = False  # the thread has ended (closed, or failed): no new job
        self._gate = threading.Lock()

    def start(self) -> None:
        self._thread.start()
        if self._watchdog is not None:
            self._watchdog.start()

    async def run(self, fn: Callable[[Connection], R], *, urgent: bool = False) -> R:
        """Run `fn` in the next group; return once its transaction is committed."""
        job = _Job(self._future(), fn=fn, urgent=urgent)
        return await self._enqueue(job)  # type: ignore[no-any-return]

    async def run_batched(self, handler: BatchHandler[I, R], item: I) -> R:
        """Hand `item` to `handler` together with every other item of the same group."""
        job = _Job(self._future(), handler=handler, item=item)
        return await self._enqueue(job)  # type: ignore[no-any-return]

    def _future(self) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    async def _enqueue(self, job: _Job) -> Any:
        with self._gate:  # the thread's end answers what is queued: none slips past it
            if self._closed:
                raise StoreUnavailable("the store is closed", hint="the hub is shutting down")
            if self._ended:
                raise StoreUnavailable("the store writer has stopped", hint="restart the hub")
            self._queue.put(job)
        return await job.future

    def close(self, timeout: float = 30.0) -> None:
        """Finish what is queued, then stop the thread and close the connection."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        if self._thread.is_alive():
            self._thread.join(timeout)

    # ------------------------------------------------------------ the writer thread

    def _loop(self) -> None:
        normal: collections.deque[_Job] = collections.deque()
        stop = False
        try:
            while not (stop and not normal and not self._urgent):
                if not normal and not self._urgent and not stop:
                    stop = self._take(self._queue.get(), normal)
                while not stop:  # everything queued now, urgent jobs set apart
                    try:
                        stop = self._take(self._queue.get_nowait(), normal)
                    except queue.Empty:
                        break
                source = self._urgent if self._urgent else normal
                jobs = [source.popleft() for _ in range(min(len(source), self._max_group))]
                if jobs:
                    self._guarded(jobs)
        finally:
            self._drop_connection()
            with self._gate:
                self._ended = True
            self._fail_left(normal)

    def _guarded(self, jobs: list[_Job]) -> None:
        """Run a group; a failure of the writer's own (not the store's, not a job's) is
        the group's answer, not the end of the thread: every later job would wait for ever."""
        try:
            self._run_group(jobs)  # answers every job of the group as its last step
        except Exception as exc:
            error = StoreUnavailable(f"the store writer failed: {first_line(exc)}")
            for job in jobs:
                job.outcome = (None, error)
            self._settle(jobs)
            self._broken(exc)
            return
        try:
            if self._between_groups is not None and self._conn is not None:
                self._between_groups(self._conn)
        except Exception as exc:
            self._broken(exc)

    def _broken(self, exc: Exception) -> None:
        log.exception(
            "the store writer failed (%s): its connection is opened anew", first_line(exc)
        )
        self._drop_connection()
        if self._on_health is not None:
            with contextlib.suppress(Exception):
                self._on_health(False)

    def _fail_left(self, normal: collections.deque[_Job]) -> None:
        """The thread ends: whatever is still queued gets an answer."""
        left = [*self._urgent, *normal]
        self._urgent.clear()
        normal.clear()
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Job):
                left.append(item)
        for job in left:
            job.outcome = (None, StoreUnavailable("the store is closed"))
        self._settle(left)

    def _take(self, item: _Job | _Stop, normal: collections.deque[_Job]) -> bool:
        if isinstance(item, _Stop):
            return True
        (self._urgent if item.urgent else normal).append(item)
        return False

    def _run_group(self, jobs: list[_Job]) -> None:
        started = time.perf_counter()
        try:
            self._transact(jobs)
        except Exception as exc:
            self._failed(exc)
            if len(jobs) == 1 or not self._healthy():
                for job in jobs:
                    job.outcome = (None, _as_store_error(exc))
            else:
                for job in jobs:
                    self._run_alone(job)
        if self._on_group is not None:
            try:
                self._on_group(len(jobs), time.perf_counter() - started)
            except Exception:  # an observer's failure is not the group's
                log.exception("observing a group of the store writer failed")
        self._settle(jobs)

    def _run_alone(self, job: _Job) -> None:
        try:
            self._transact([job])
        except Exception as exc:
            self._failed(exc)
            job.outcome = (None, _as_store_error(exc))

    def _transact(self, jobs: list[_Job]) -> None:
        """The jobs in one transaction, then their after-commit hooks. Raises what failed.
        All of it is in the watchdog's sight: a new connection's first statements (lock,
        schema) and a resync too, which come right after a lost one, on a path as flaky."""
        self._busy_since = time.monotonic()
        try:
            conn = self._connection()
            if self.unsure and self.resync is not None:
                with conn.begin():
                    self.resync(conn)
                self.unsure = False
                log.warning("the store's state in memory was read again after a lost commit")
            conn.info[_HOOKS] = []
            try:
                with conn.begin():
                    self._execute(conn, jobs)
                    self._check()
            finally:
                self.transactions += 1
        finally:
            self._busy_since = None
        self._committed(conn)

    def _check(self) -> None:
        if self._before_commit is not None:
            self._before_commit()

    def _failed(self, exc: Exception) -> None:
        """A group rolled back: forget its hooks; a store error (not a job's own bug)
        tells the observer that the store cannot commit."""
        conn = self._conn
        lost = isinstance(exc, DBAPIError) and exc.connection_invalidated
        if lost:
            self.unsure = True
        if conn is not None and (lost or conn.invalidated):
            # Not a word to it: an invalidated connection's `info` connects again, without
            # the hub's lock and schema check, and raises while the server is down (which
            # ended this thread: the hub hung, answering nothing, after a PostgreSQL restart).
            self._drop_connection()
        elif conn is not None:
            conn.info[_HOOKS] = []
            conn.info.pop(WROTE, None)
        if self._on_health is not None and isinstance(exc, SQLAlchemyError | StoreUnavailable):
            self._on_health(False)

    def _committed(self, conn: Connection) -> None:
        # Committed: nothing here may raise into the group's handling, which would run
        # its jobs again, alone.
        if conn.info.pop(WROTE, False) and self._on_health is not None:
            try:
                self._on_health(True)
            except Exception:
                log.exception("observing the store's health failed")
        hooks: list[Callable[[], None]] = conn.info.pop(_HOOKS, [])
        for hook in hooks:
            try:
                hook()
            except Exception:
                log.exception("an after-commit step failed")

    def _execute(self, conn: Connection, jobs: list[_Job]) -> None:
        batches: dict[BatchHandler[Any, Any], list[_Job]] = {}
        for job in jobs:
            if job.handler is not None:
                batches.setdefault(job.handler, []).append(job)
                continue
            assert job.fn is not None
            try:
                job.outcome = (job.fn(conn), None)
            except Refusal as refusal:
                job.outcome = (None, refusal)
        for handler, group in batches.items():
            results = handler(conn, [job.item for job in group])
            for job, result in zip(group, results, strict=True):
                job.outcome = (None, result) if isinstance(result, Refusal) else (result, None)

    def _connection(self) -> Connection:
        if self._conn is None:
            try:
                conn = self._engine.connect()
            except SQLAlchemyError as exc:
                raise StoreUnavailable(f"cannot connect to the store: {first_line(exc)}") from exc
            event.listen(conn, "after_cursor_execute", _note_write)
            self._connecting = conn  # the watchdog's to cut while its first statements run
            try:
                if self._on_connect is not None:
                    self._on_connect(conn)
            except BaseException:
                conn.close()
                raise
            finally:
                self._connecting = None
            self._conn = conn
        return self._conn

    def _watch(self) -> None:
        """Cut the connection of a transaction that has waited on the server past the
        stall limit: the writer's call then fails as on a lost connection (the group is
        answered, the connection made again, the state in memory read again)."""
        cut: float | None = None
        while not self._closed:
            time.sleep(max(0.05, min(1.0, self._stall / 4)))
            since, conn = self._busy_since, self._conn or self._connecting
            if since is None or since == cut or conn is None:
                continue
            if time.monotonic() - since < self._stall:
                continue
            cut = since
            log.error(
                "the store has not answered the writer for %.0fs: its connection is cut and "
                "made again (check the database server and the network to it)",
                time.monotonic() - since,
            )
            _shut(conn)

    def _healthy(self) -> bool:
        return self._conn is not None

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _settle(self, jobs: list[_Job]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        for job in jobs:
            by_loop.setdefault(job.future.get_loop(), []).append(job)
        for loop, group in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
                loop.call_soon_threadsafe(_resolve, group)


def _resolve(jobs: list[_Job]) -> None:
    for job in jobs:
        if job.future.done():
            continue  # the caller gave up waiting
        value, error = job.outcome
        if error is None:
            job.future.set_result(value)
        else:
            job.future.set_exception(error)


def _as_store_error(exc: BaseException) -> BaseException:
    if isinstance(exc, SQLAlchemyError):
        _failures.warning(f"store operation failed: {first_line(exc)}")
        return StoreUnavailable(f"the store refused the operation: {first_line(exc)}")
    return exc


def _shut(conn: Connection) -> None:
    """Shut the connection's socket down under whoever waits on it (from another thread)."""
    try:
        fd = conn.connection.dbapi_connection.fileno()  # type: ignore[union-attr]
        dup = socket.socket(fileno=os.dup(fd))
    except Exception:  # closed meanwhile, or a driver without a socket to give
        return
    with contextlib.suppress(OSError), dup:
        dup.shutdown(socket.SHUT_RDWR)
