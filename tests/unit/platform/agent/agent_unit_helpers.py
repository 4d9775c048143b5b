"""Helpers for the agent's in-process tests."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import psutil

from kindfleet.platform.agent.db import AgentDb
from kindfleet.platform.agent.records import WriteSet
from kindfleet.platform.agent.settings import AgentSettings
from kindfleet.platform.wire import WorkloadSpec


def with_capacity(settings: AgentSettings, **capacity: int) -> AgentSettings:
    return replace(settings, capacity=settings.capacity.model_copy(update=capacity))


def py(code: str, **fields: object) -> WorkloadSpec:
    return WorkloadSpec.model_validate(
        {"name": "job", "command": [sys.executable, "-c", code], **fields}
    )


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@contextmanager
def tx(db: AgentDb) -> Iterator[sqlite3.Connection]:
    """One transaction on the db's own connection (the journal's is for the agent)."""
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db.conn
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")


class Disk:
    """The journal's disk, as its writer sees it. `fill(path)` packs the database's free
    pages with a filler table; from then on, until `free()`, the writer's connection may
    not grow the file past the pages it has (`max_page_count`), and each transaction's
    first write (a filler page) needs one more: SQLite itself answers SQLITE_FULL, as on a
    full disk. Give `batch` to a Journal; `attempts` counts the transactions it began."""

    def __init__(self) -> None:
        self.full = False
        self.attempts = 0

    def fill(self, path: Path) -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=OFF")  # a test's filler: no fsync per row
            conn.execute("CREATE TABLE IF NOT EXISTS filler (b BLOB)")
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count={pages}")
            size = 1 << 16
            while size:
                try:
                    conn.execute("INSERT INTO filler VALUES (zeroblob(?))", (size,))
                except sqlite3.OperationalError:
                    size //= 2
        finally:
            conn.close()
        self.full = True

    def free(self) -> None:
        self.full = False

    def batch(self, conn: sqlite3.Connection) -> WriteSet:
        self.attempts += 1
        cap = conn.execute("PRAGMA page_count").fetchone()[0] if self.full else 1 << 30
        conn.execute(f"PRAGMA max_page_count={cap}")
        if self.full:
            conn.execute("INSERT INTO filler VALUES (zeroblob(65536))")
        return WriteSet(conn)
