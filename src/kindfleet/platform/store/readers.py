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
from sqlalchemy.exc import SQLAlchemyError

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
        conn: Connection | None = getattr(self._local, "conn", None)
        try:
            if conn is None or conn.invalidated:
                conn = self._connect()
            with conn.begin():
                return fn(conn)
        except Refusal:
            raise
        except SQLAlchemyError as exc:
            self._local.conn = None
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
            log.warning("a read failed: %s", _first_line(exc))
            raise StoreUnavailable("the store could not answer a read") from None

    def _connect(self) -> Connection:
        try:
            conn = self._engine.connect()
        except SQLAlchemyError as exc:
            log.warning("a reader cannot connect: %s", _first_line(exc))
            raise StoreUnavailable("cannot connect to the store") from None
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    def close(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(Exception):
                    conn.close()
            self._connections.clear()


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0][:200]
