"""The durable outbox: sequence numbers assigned in the same commit as the entry, never
reused or skipped, and any interleaving of appends, flushes, lost acks and crashes delivers
1..N exactly once (against a hub that keeps the highest seq it applied)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from agent_unit_helpers import tx
from hypothesis import given, settings
from hypothesis import strategies as st

from kindfleet.platform.agent import outbox
from kindfleet.platform.agent.db import AgentDb
from kindfleet.platform.agent.records import WriteSet


class Boom(Exception):
    pass


class Box:
    """The outbox functions over one db, each call its own transaction."""

    def __init__(self, db: AgentDb) -> None:
        self.db = db

    def append(self, kind, body) -> int:
        with tx(self.db) as conn:
            w = WriteSet(conn)
            seq = w.append(kind, body)
            w.write()
            return seq

    def ack_through(self, seq: int) -> int:
        with tx(self.db) as conn:
            return conn.execute(outbox.ACK_THROUGH_SQL, (seq,)).rowcount

    def read(self, limit: int = outbox.FLUSH_BATCH):
        return outbox.read(self.db.conn, limit)

    def pending(self) -> int:
        return outbox.pending(self.db.conn)

    def last_seq(self) -> int:
        return outbox.last_seq(self.db.conn)


def _append_then_fail(db: AgentDb, box: Box) -> None:
    with tx(db) as conn:
        w = WriteSet(conn)
        w.append("event", {"n": -1})
        w.write()
        raise Boom


def test_append_read_ack(tmp_path: Path):
    box = Box(AgentDb(tmp_path / "a.db"))
    assert box.last_seq() == 0
    seqs = [box.append("event", {"n": i}) for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    batch = box.read(3)
    assert [(e.seq, e.body["n"]) for e in batch] == [(1, 0), (2, 1), (3, 2)]
    assert box.ack_through(2) == 2
    assert [e.seq for e in box.read()] == [3, 4, 5]
    assert box.pending() == 3


def test_numbers_survive_an_emptied_outbox_and_a_reopen(tmp_path: Path):
    db = AgentDb(tmp_path / "a.db")
    box = Box(db)
    for _ in range(3):
        box.append("telemetry", {})
    box.ack_through(3)
    assert box.pending() == 0
    db.close()
    box = Box(AgentDb(tmp_path / "a.db"))
    assert box.append("event", {}) == 4


def test_a_rolled_back_transaction_takes_no_number(tmp_path: Path):
    db = AgentDb(tmp_path / "a.db")
    box = Box(db)
    box.append("event", {"n": 1})
    with pytest.raises(Boom):
        _append_then_fail(db, box)
    assert box.append("event", {"n": 3}) == 2
    assert [e.body["n"] for e in box.read()] == [1, 3]  # the failed one left nothing


def test_uses_wal_and_full_sync(tmp_path: Path):
    db = AgentDb(tmp_path / "a.db")
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 4)),
        st.tuples(st.just("flush"), st.integers(1, 6), st.booleans()),
        st.tuples(st.just("crash")),
        st.tuples(st.just("rollback")),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_any_interleaving_delivers_one_to_n_exactly_once(ops):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "agent.db"
        db = AgentDb(path)
        box = Box(db)
        hub_high = 0
        applied: list[tuple[int, int]] = []  # (seq, payload) as the hub applied them
        appended = 0

        def flush(limit: int, lose_ack: bool) -> None:
            nonlocal hub_high
            entries = box.read(limit)
            for entry in entries:  # the hub: apply what is new, count the rest as duplicates
                if entry.seq > hub_high:
                    applied.append((entry.seq, entry.body["n"]))
                    hub_high = entry.seq
            if entries and not lose_ack:
                box.ack_through(min(hub_high, entries[-1].seq))

        for op in ops:
            if op[0] == "append":
                for _ in range(op[1]):
                    appended += 1
                    assert box.append("event", {"n": appended}) == appended
            elif op[0] == "flush":
                flush(op[1], op[2])
            elif op[0] == "crash":
                db.close()
                db = AgentDb(path)
                box = Box(db)
            else:
                with pytest.raises(Boom):
                    _append_then_fail(db, box)
        while box.pending():
            flush(500, False)
        db.close()
        assert applied == [(n, n) for n in range(1, appended + 1)]


async def test_what_waits_is_numbered_above_a_hub_that_is_ahead(tmp_path: Path):
    """A state directory restored from an older copy: the hub applied up to 20, this
    outbox waits with 5..7 (and a done run whose terminal report is 6). Renumbered in one
    commit with an entry appended beside it: order kept, the run follows its report, and
    the numbers after go on above."""
    from kindfleet.platform.agent import state
    from kindfleet.platform.agent.records import Records, journal

    db = AgentDb(tmp_path / "a.db")
    box = Box(db)
    for n in range(1, 8):
        box.append("event", {"n": n})
    box.ack_through(4)
    with tx(db) as conn:
        conn.execute(state.INSERT_SQL, state.insert_row(_held("w1")))
        conn.execute(state.DONE_SQL, (6, "w1", 1))
    records = Records(db, journal(db), reported=lambda: None)
    try:
        shift = records.renumber_above(20)
        beside = records.journal.submit(lambda w: w.append("event", {"n": 8}))
        assert await shift == 16
        assert await beside == 24
        assert [(e.seq, e.body["n"]) for e in box.read()] == [(21, 5), (22, 6), (23, 7), (24, 8)]
        assert [h.terminal_seq for h in records.held()] == [22]
        assert await records.renumber_above(10) == 0  # not behind: nothing moves
        assert [e.seq for e in box.read()] == [21, 22, 23, 24]
    finally:
        await records.journal.close()


def _held(workload: str):
    from kindfleet.platform.agent.state import Held, Phase
    from kindfleet.platform.wire import WorkloadSpec

    spec = WorkloadSpec(name="w", command=["true"])
    return Held(workload=workload, generation=1, spec=spec, phase=Phase.ACCEPTED)
