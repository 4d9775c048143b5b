"""The agent's durable steps, each one journal change (journal.py) that writes a run's new
state and the outbox entry reporting it in the same transaction: accepted, started,
finished, dropped (fenced), an answer to the hub (rejected, a cancel of something not
held), telemetry, and the hub's acknowledgement. Nothing else writes to the database.

A change's future completes once it is committed; when it carries a report, the flusher is
woken then (`reported`), so a report leaves as soon as it can and never before it is durable.
Reads go through the reader connection and see committed rows only.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kindfleet.platform.agent import outbox, state
from kindfleet.platform.agent.db import AgentDb
from kindfleet.platform.agent.journal import Journal
from kindfleet.platform.agent.outbox import Entry
from kindfleet.platform.agent.state import Held, Phase

Body = Mapping[str, Any]


class Records:
    def __init__(self, db: AgentDb, journal: Journal, *, reported: Callable[[], None]) -> None:
        self.db = db
        self.journal = journal
        self.reported = reported

    # ------------------------------------------------------------------ a run's steps

    def accepted(self, held: Held, body: Body) -> asyncio.Future[None]:
        def apply(conn: sqlite3.Connection) -> None:
            state.insert(conn, held)
            outbox.append(conn, "event", body)

        return self._reporting(apply)

    def started(self, held: Held, body: Body) -> asyncio.Future[None]:
        def apply(conn: sqlite3.Connection) -> None:
            state.update(conn, held)
            outbox.append(conn, "event", body)

        return self._reporting(apply)

    def finished(self, held: Held, body: Body) -> asyncio.Future[Held]:
        """The terminal event; the run is then held as done until the hub acknowledges it."""

        def apply(conn: sqlite3.Connection) -> Held:
            done = held.but(phase=Phase.DONE, terminal_seq=outbox.append(conn, "event", body))
            state.update(conn, done)
            return done

        return self._reporting(apply)

    def dropped(self, held: Held) -> asyncio.Future[None]:
        """Fenced: forgotten without a report."""
        return self.journal.submit(lambda conn: state.delete(conn, held.workload, held.generation))

    def answered(self, body: Body, *, forget: Held | None = None) -> asyncio.Future[None]:
        """A report about an assignment not (or no longer) held: rejected, or a cancel."""

        def apply(conn: sqlite3.Connection) -> None:
            if forget is not None:
                state.delete(conn, forget.workload, forget.generation)
            outbox.append(conn, "event", body)

        return self._reporting(apply)

    def telemetry(self, bodies: Sequence[Body]) -> asyncio.Future[None]:
        def apply(conn: sqlite3.Connection) -> None:
            for body in bodies:
                outbox.append(conn, "telemetry", body)

        return self.journal.submit(apply)

    def acked(self, through: int) -> asyncio.Future[list[tuple[str, int]]]:
        """The hub has everything up to `through`: drop it, and the done runs it ended."""

        def apply(conn: sqlite3.Connection) -> list[tuple[str, int]]:
            outbox.ack_through(conn, through)
            return state.forget_acked(conn, through)

        return self.journal.submit(apply)

    def _reporting(self, apply: Callable[[sqlite3.Connection], Any]) -> asyncio.Future[Any]:
        future = self.journal.submit(apply)
        future.add_done_callback(lambda _: self.reported())
        return future

    # ------------------------------------------------------------------ what is committed

    def entries(self, limit: int = outbox.FLUSH_BATCH) -> list[Entry]:
        return outbox.read(self.db.conn, limit)

    def pending(self) -> int:
        return outbox.pending(self.db.conn)

    def last_seq(self) -> int:
        return outbox.last_seq(self.db.conn)

    def held(self) -> list[Held]:
        return state.load(self.db.conn)
