"""Status and telemetry leave the spoke through here and nowhere else. Every entry gets the
next sequence number in the same commit that stores it, so numbers are never reused, never
skipped and never renumbered, even across crashes and an emptied outbox (the counter is
stored, not derived from the rows). The hub keeps the highest sequence number it applied
per spoke, which makes redelivery after a crash or a lost response harmless: each entry is
applied exactly once.

Plain functions over a connection: writes run inside the journal's transactions
(journal.py), reads on the event loop's reader, which sees committed entries only.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

EntryKind = Literal["event", "telemetry"]
FLUSH_BATCH = 500


@dataclass(frozen=True)
class Entry:
    seq: int
    kind: EntryKind
    body: Mapping[str, Any]  # the wire model's fields, without `seq`


def append(conn: sqlite3.Connection, kind: EntryKind, body: Mapping[str, Any]) -> int:
    """Store one entry under the next sequence number (in the caller's transaction)."""
    row = conn.execute(
        "UPDATE meta SET value = value + 1 WHERE key = 'next_seq' RETURNING value - 1"
    ).fetchone()
    seq = int(row[0])
    conn.execute(
        "INSERT INTO outbox (seq, kind, body) VALUES (?, ?, ?)",
        (seq, kind, json.dumps(body, separators=(",", ":"))),
    )
    return seq


def ack_through(conn: sqlite3.Connection, seq: int) -> int:
    """Forget every entry up to and including `seq`; how many went."""
    return conn.execute("DELETE FROM outbox WHERE seq <= ?", (seq,)).rowcount


def read(conn: sqlite3.Connection, limit: int = FLUSH_BATCH) -> list[Entry]:
    """The oldest `limit` entries, in sequence order."""
    rows = conn.execute("SELECT seq, kind, body FROM outbox ORDER BY seq LIMIT ?", (limit,))
    return [Entry(seq, kind, json.loads(body)) for seq, kind, body in rows.fetchall()]


def pending(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])


def last_seq(conn: sqlite3.Connection) -> int:
    """The highest sequence number ever handed out (0 before the first append)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
    return int(row[0]) - 1
