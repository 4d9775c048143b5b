"""Reads on connections of their own: never on the writer's thread, never in its queue.

Clients' reads (lists, a workload, explain, the spoke list, telemetry) run here, a few at
a time, each in a read-only transaction of its own (a consistent snapshot: WAL on
SQLite, REPEATABLE READ on PostgreSQL). However many clients read at once, the writer,
and so every spoke's lease renewal, never waits for them; the clients wait their turn
for a reader instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from kindfleet.platform.repeats import first_line
from kindfleet.platform.store.engine import StoreUnavailable
from kindfleet.platform.store.writer import Refusal

log = logging.getLogger("kindfleet.hub.store")

R = TypeVar("R")


class Readers:
    def __init__(self, engine: Engine, size: int) -> None:
        self._engine = engine
        self._pool = ThreadPoolExecutor(max(size, 1), thread_name_prefix="kf-store-reader")
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, fn: Callable[[Connection], R]) -> R:
        """Run `fn` in a read-only transaction on a reader thread; return its result."""
        if self._closed:
            raise StoreUnavailable("the store is closed", hint="the hub is shutting down")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._call, fn)

    def _call(self, fn: Callable[[Connection], R]) -> R:
        kept: Connection | None = getattr(self._local, "conn", None)
        if kept is not None and not kept.invalidated:
            try:
                return self._read(kept, fn)
            except SQLAlchemyError as exc:
                if not (isinstance(exc, DBAPIError) and exc.connection_invalidated):
                    raise self._failed(exc) from None
                # Kept from before the server went away (a PostgreSQL restart): the first
                # read after it failed with a 503 while the store was up. A read is safe to
                # run again; on a new connection, once.
        try:
            return self._read(self._connect(), fn)
        except SQLAlchemyError as exc:
            raise self._failed(exc) from None

    def _read(self, conn: Connection, fn: Callable[[Connection], R]) -> R:
        try:
            with conn.begin():
                return fn(conn)
        except Refusal:
            raise
        except SQLAlchemyError:
            self._forget(conn)
            raise

    def _failed(self, exc: SQLAlchemyError) -> StoreUnavailable:
        log.warning("a read failed: %s", first_line(exc))
        return StoreUnavailable("the store could not answer a read")

    def _connect(self) -> Connection:
        try:
            conn = self._engine.connect()
        except SQLAlchemyError as exc:
            log.warning("a reader cannot connect: %s", first_line(exc))
            raise StoreUnavailable("cannot connect to the store") from None
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    def _forget(self, conn: Connection) -> None:
        self._local.conn = None
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)
        with contextlib.suppress(Exception):
            conn.close()

    def close(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(Exception):
                    conn.close()
            self._connections.clear()
