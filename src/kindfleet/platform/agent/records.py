"""The agent's durable steps, each one journal change (journal.py) that writes a run's new
state and the outbox entry reporting it in the same transaction: accepted, started,
finished, dropped (fenced), an answer to the hub (rejected, a cancel of something not
held), telemetry, and the hub's acknowledgement. Nothing else writes to the database.

A change's future completes once it is committed; when a commit carried reports, the
flusher is woken then (`reported`, once per commit), so a report leaves as soon as it can
and never before it is durable.
Reads go through the reader connection and see committed rows only.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from kindfleet.platform.agent import outbox, state
from kindfleet.platform.agent.db import PRUNED_SQL, WAS_PRUNED_SQL, AgentDb
from kindfleet.platform.agent.journal import Journal
from kindfleet.platform.agent.outbox import Entry, EntryKind
from kindfleet.platform.agent.state import Held

Body = Mapping[str, Any]

# The order a transaction's rows are written in. Within one transaction a run's row is
# inserted (accepted) before it is updated (started, then done) and before it may be
# deleted (fenced); outbox entries come last, then the counter.
_ORDER = (
    state.INSERT_SQL, state.STARTED_SQL, state.DONE_SQL, state.DELETE_SQL, PRUNED_SQL,
    outbox.INSERT_SQL,
)  # fmt: skip


class WriteSet:
    """Everything one transaction writes, gathered from its changes and written with one
    `executemany` per statement: a busy spoke's batch of events costs a handful of
    statements, not a few per event. Outbox numbers are taken here, in submission order,
    and the counter is stored once."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.rows: dict[str, list[tuple[object, ...]]] = {sql: [] for sql in _ORDER}
        self.first_seq = self.next_seq = outbox.next_seq(conn)

    def add(self, sql: str, row: tuple[object, ...]) -> None:
        self.rows[sql].append(row)

    def append(self, kind: EntryKind, body: Body) -> int:
        """An outbox entry; its sequence number."""
        seq = self.next_seq
        self.next_seq += 1
        self.rows[outbox.INSERT_SQL].append(outbox.row(seq, kind, body))
        return seq

    def execute(self, sql: str, params: tuple[object, ...]) -> list[Any]:
        """Run a statement now, after everything gathered so far (its rows)."""
        self.write()
        return self.conn.execute(sql, params).fetchall()

    def mark(self) -> object:
        return self.next_seq, {sql: len(rows) for sql, rows in self.rows.items()}

    def undo(self, mark: object) -> None:
        next_seq, lengths = cast(tuple[int, dict[str, int]], mark)
        self.next_seq = next_seq
        for sql, length in lengths.items():
            del self.rows[sql][length:]

    def write(self) -> None:
        for sql in _ORDER:
            if self.rows[sql]:
                self.conn.executemany(sql, self.rows[sql])
                self.rows[sql].clear()
        if self.next_seq != self.first_seq:
            self.conn.execute(outbox.SET_NEXT_SEQ_SQL, (self.next_seq,))
            self.first_seq = self.next_seq


class Records:
    def __init__(
        self, db: AgentDb, journal: Journal[WriteSet], *, reported: Callable[[], None]
    ) -> None:
        self.db = db
        self.journal = journal
        self.reported = reported
        self._reports = False
        journal.committed = self._committed

    # ------------------------------------------------------------------ a run's steps

    def accepted(self, held: Held, body: Body) -> asyncio.Future[None]:
        def apply(w: WriteSet) -> None:
            w.add(state.INSERT_SQL, state.insert_row(held))
            w.append("event", body)

        return self._reporting(apply)

    def started(self, held: Held, body: Body) -> asyncio.Future[None]:
        def apply(w: WriteSet) -> None:
            w.add(state.STARTED_SQL, state.started_row(held))
            w.append("event", body)

        return self._reporting(apply)

    def finished(self, held: Held, body: Body) -> asyncio.Future[Held]:
        """The terminal event; the run is then held as done until the hub acknowledges it."""

        def apply(w: WriteSet) -> Held:
            seq = w.append("event", body)
            w.add(state.DONE_SQL, state.done_row(held, seq))
            return held.done(seq)

        return self._reporting(apply)

    def dropped(self, held: Held) -> asyncio.Future[None]:
        """Fenced: forgotten without a report."""
        return self.journal.submit(lambda w: w.add(state.DELETE_SQL, state.delete_row(held)))

    def answered(self, body: Body, *, forget: Held | None = None) -> asyncio.Future[None]:
        """A report about an assignment not (or no longer) held: rejected, or a cancel."""

        def apply(w: WriteSet) -> None:
            if forget is not None:
                w.add(state.DELETE_SQL, state.delete_row(forget))
            w.append("event", body)

        return self._reporting(apply)

    def telemetry(self, bodies: Sequence[Body]) -> asyncio.Future[None]:
        def apply(w: WriteSet) -> None:
            for body in bodies:
                w.append("telemetry", body)

        return self.journal.submit(apply)

    def pruned(self, keys: Sequence[str], at: float) -> asyncio.Future[None]:
        """These runs' directories are about to be removed: never start them again."""

        def apply(w: WriteSet) -> None:
            for key in keys:
                w.add(PRUNED_SQL, (key, at))

        return self.journal.submit(apply)

    def acked(self, through: int) -> asyncio.Future[list[tuple[str, int]]]:
        """The hub has everything up to `through`: drop it, and the done runs it ended."""

        def apply(w: WriteSet) -> list[tuple[str, int]]:
            w.execute(outbox.ACK_THROUGH_SQL, (through,))
            return state.forget_acked(w.conn, through)

        return self.journal.submit(apply)

    def renumber_above(self, floor: int) -> asyncio.Future[int]:
        """The hub has applied numbers up to `floor` that this outbox never sent: this
        state directory is older than the hub's record of the spoke (restored from a copy,
        a snapshot of the machine). Every number from here on was taken for a redelivery
        and ignored: the reports of runs started since were lost, the hub placed those runs
        again and they ran twice. What waits is numbered again above `floor` (its done runs'
        terminal numbers with it), and so is every later entry. The shift."""

        def apply(w: WriteSet) -> int:
            w.write()  # entries of this commit gathered so far are numbered too
            first = outbox.first_seq(w.conn) or w.next_seq
            shift = floor + 1 - first
            if shift <= 0:
                return 0
            for sql in outbox.renumber_sql(shift) + state.renumber_sql(shift, first):
                w.conn.execute(*sql)
            w.next_seq += shift
            return shift

        return self.journal.submit(apply)

    def _reporting(self, apply: Callable[[WriteSet], Any]) -> asyncio.Future[Any]:
        self._reports = True
        return self.journal.submit(apply)

    def _committed(self) -> None:
        """Once per commit: wake the flusher if reports were among what was committed."""
        if self._reports:
            self._reports = False
            self.reported()

    # ------------------------------------------------------------------ what is committed

    def entries(self, limit: int = outbox.FLUSH_BATCH) -> list[Entry]:
        return outbox.read(self.db.conn, limit)

    def pending(self) -> int:
        return outbox.pending(self.db.conn)

    def last_seq(self) -> int:
        return outbox.last_seq(self.db.conn)

    def held(self) -> list[Held]:
        return state.load(self.db.conn)

    def was_pruned(self, key: str) -> bool:
        return self.db.conn.execute(WAS_PRUNED_SQL, (key,)).fetchone() is not None


def journal(db: AgentDb) -> Journal[WriteSet]:
    """The journal of this agent's database."""
    return Journal(db.path, WriteSet)
