"""Status and telemetry leave the spoke through here and nowhere else. Every entry gets the
next sequence number in the same commit that stores it, so numbers are never reused, never
skipped and never renumbered, even across crashes and an emptied outbox (the counter is
stored, not derived from the rows). The hub keeps the highest sequence number it applied
per spoke, which makes redelivery after a crash or a lost response harmless: each entry is
applied exactly once.

Rows are written by the journal's transactions (records.py: an entry's number is taken
there, and the counter stored once per commit); reads run on the event loop's reader,
which sees committed entries only.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

EntryKind = Literal["event", "telemetry"]
FLUSH_BATCH = 500
# Posts of reports start at least this far apart (the first after a quiet spell at once):
# under load, a post the instant a report was committed carried three or four, and each
# post cost the agent and the hub more than the reports in it.
FLUSH_SPACING = 0.1


@dataclass(frozen=True)
class Entry:
    seq: int
    kind: EntryKind
    raw: str  # the wire model's fields as stored (JSON), without `seq`

    @functools.cached_property
    def body(self) -> Mapping[str, Any]:
        return json.loads(self.raw)  # type: ignore[no-any-return]


INSERT_SQL = "INSERT INTO outbox (seq, kind, body) VALUES (?, ?, ?)"
SET_NEXT_SEQ_SQL = "UPDATE meta SET value = ? WHERE key = 'next_seq'"


def row(seq: int, kind: EntryKind, body: Mapping[str, Any]) -> tuple[int, str, str]:
    return (seq, kind, json.dumps(body, separators=(",", ":")))


def next_seq(conn: sqlite3.Connection) -> int:
    """The number the next entry gets (numbers handed out are never handed out again)."""
    return int(conn.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()[0])


ACK_THROUGH_SQL = "DELETE FROM outbox WHERE seq <= ?"  # the hub has everything up to ?


def first_seq(conn: sqlite3.Connection) -> int | None:
    """The number of the oldest entry waiting (None: none waits)."""
    row = conn.execute("SELECT min(seq) FROM outbox").fetchone()
    return None if row[0] is None else int(row[0])


def renumber_sql(shift: int) -> list[tuple[str, tuple[object, ...]]]:
    """Every waiting entry's number moved up by `shift`, order kept (through negative
    numbers: a key may not meet another on the way)."""
    return [
        ("UPDATE outbox SET seq = -(seq + ?)", (shift,)),
        ("UPDATE outbox SET seq = -seq", ()),
    ]


def read(conn: sqlite3.Connection, limit: int = FLUSH_BATCH) -> list[Entry]:
    """The oldest `limit` entries, in sequence order."""
    rows = conn.execute("SELECT seq, kind, body FROM outbox ORDER BY seq LIMIT ?", (limit,))
    return [Entry(seq, kind, body) for seq, kind, body in rows.fetchall()]


def pending(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])


def last_seq(conn: sqlite3.Connection) -> int:
    """The highest sequence number ever handed out (0 before the first append)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
    return int(row[0]) - 1
