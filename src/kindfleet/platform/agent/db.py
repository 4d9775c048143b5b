"""The agent's one durable file: outbox and held assignments live in the same SQLite
database so that a state change and the event that reports it commit together. A crash
can then never leave a run recorded as finished without its terminal event, or the other
way round.

WAL with synchronous=FULL: a committed append survives a kill -9 or a power cut, which is
what "nothing is lost while the hub is down" rests on. Two connections: the journal's
writer (its own thread, journal.py) and this reader on the event loop, which sees only
what is committed, so the outbox can never send an entry a crash could still undo.

The file and its -wal and -shm companions hold workload specs (env values among them): they
are created 0600 (SQLite gives the companions the database file's mode) and tightened if an
older agent left them wider.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from kindfleet.errors import PrerequisiteError
from kindfleet.platform.agent.paths import PRIVATE_FILE

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
CREATE TABLE IF NOT EXISTS pruned (key TEXT PRIMARY KEY, at REAL NOT NULL) WITHOUT ROWID;
"""
# Run keys whose directories were removed (prune.py): never started again.
PRUNED_SQL = "INSERT OR IGNORE INTO pruned (key, at) VALUES (?, ?)"
WAS_PRUNED_SQL = "SELECT at FROM pruned WHERE key = ?"


def connect(path: Path, *, writer: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, synchronous=FULL.
    The writer's may be handed to another thread (only ever used by one at a time)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=not writer)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def private(path: Path) -> None:
    """Make the database file and its companions readable by this user only."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(f"{path}{suffix}", PRIVATE_FILE, follow_symlinks=False)


# DELETE ... RETURNING (state.forget_acked) came with 3.35.
SQLITE_NEEDED = (3, 35, 0)


def check_library(version: tuple[int, ...] = sqlite3.sqlite_version_info) -> None:
    """Refuse, at start, a SQLite library the journal's statements would fail on later."""
    if tuple(version) < SQLITE_NEEDED:
        shown = ".".join(map(str, version))
        raise PrerequisiteError(
            f"the SQLite library Python uses is {shown}; the spoke agent needs 3.35 or later",
            hint="run the agent with a Python whose SQLite is newer (python -c "
            "'import sqlite3; print(sqlite3.sqlite_version)')",
        )


class AgentDb:
    """The schema, and the reader connection of the event-loop thread."""

    def __init__(self, path: Path) -> None:
        check_library()
        self.path = path
        private(path)
        self.conn = connect(path)
        self.conn.executescript(_SCHEMA)  # idempotent statements; each commits on its own

    def close(self) -> None:
        self.conn.close()
