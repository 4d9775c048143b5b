"""The agent's one durable file: outbox and held assignments live in the same SQLite
database so that a state change and the event that reports it commit together. A crash
can then never leave a run recorded as finished without its terminal event, or the other
way round.

WAL with synchronous=FULL: a committed append survives a kill -9 or a power cut, which is
what "nothing is lost while the hub is down" rests on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('next_seq', 1);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assignments (
    workload TEXT NOT NULL,
    generation INTEGER NOT NULL,
    spec TEXT NOT NULL,
    phase TEXT NOT NULL,
    gpu_ids TEXT NOT NULL DEFAULT '',
    handle TEXT,
    started_at REAL,
    terminal_seq INTEGER,
    PRIMARY KEY (workload, generation)
);
"""


class AgentDb:
    """One connection, used from the agent's event-loop thread only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA busy_timeout=5000")
        self._depth = 0
        self.conn.executescript(_SCHEMA)  # idempotent statements; each commits on its own

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Commit everything done inside at once; nested uses join the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")
        finally:
            self._depth = 0

    def close(self) -> None:
        self.conn.close()
