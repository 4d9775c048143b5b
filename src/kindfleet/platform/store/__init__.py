"""The hub's durable state: SQLite (WAL, fsync on commit) by default, PostgreSQL by URL.

A 2xx from the hub means the change is committed here; the hub keeps nothing in memory
that it could not rebuild from these tables after a kill -9.
"""

from __future__ import annotations

from kindfleet.platform.store.database import Database, open_database
from kindfleet.platform.store.engine import StoreUnavailable, redact
from kindfleet.platform.store.writer import Refusal, Writer, after_commit

__all__ = [
    "Database",
    "Refusal",
    "StoreUnavailable",
    "Writer",
    "after_commit",
    "open_database",
    "redact",
]
