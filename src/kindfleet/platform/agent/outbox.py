"""Status and telemetry leave the spoke through here and nowhere else. Every entry gets the
next sequence number in the same commit that stores it, so numbers are never reused, never
skipped and never renumbered, even across crashes and an emptied outbox (the counter is
stored, not derived from the rows). The hub keeps the highest sequence number it applied
per spoke, which makes redelivery after a crash or a lost response harmless: each entry is
applied exactly once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kindfleet.platform.agent.db import AgentDb

EntryKind = Literal["event", "telemetry"]
FLUSH_BATCH = 500


@dataclass(frozen=True)
class Entry:
    seq: int
    kind: EntryKind
    body: Mapping[str, Any]  # the wire model's fields, without `seq`


class Outbox:
    def __init__(self, db: AgentDb) -> None:
        self.db = db

    def append(self, kind: EntryKind, body: Mapping[str, Any]) -> int:
        """Store one entry under the next sequence number; returns that number.

        Joins the caller's transaction when there is one (a state change and the event
        reporting it commit together), else commits on its own.
        """
        with self.db.transaction() as conn:
            seq = _take_seq(conn)
            conn.execute(
                "INSERT INTO outbox (seq, kind, body) VALUES (?, ?, ?)",
                (seq, kind, json.dumps(body, separators=(",", ":"))),
            )
        return seq

    def read(self, limit: int = FLUSH_BATCH) -> list[Entry]:
        """The oldest `limit` entries, in sequence order."""
        rows = self.db.conn.execute(
            "SELECT seq, kind, body FROM outbox ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
        return [Entry(seq, kind, json.loads(body)) for seq, kind, body in rows]

    def ack_through(self, seq: int) -> int:
        """Forget every entry up to and including `seq`; how many went."""
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM outbox WHERE seq <= ?", (seq,)).rowcount

    def pending(self) -> int:
        row = self.db.conn.execute("SELECT count(*) FROM outbox").fetchone()
        return int(row[0])

    def last_seq(self) -> int:
        """The highest sequence number ever handed out (0 before the first append)."""
        row = self.db.conn.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        return int(row[0]) - 1


def _take_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "UPDATE meta SET value = value + 1 WHERE key = 'next_seq' RETURNING value - 1"
    ).fetchone()
    return int(row[0])
