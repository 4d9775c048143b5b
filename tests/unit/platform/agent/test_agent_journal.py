"""Group commit: changes queued while a commit is on disk share the next one (and their rows
one statement each); a change's
future completes only once its transaction is committed (another connection sees it); a
change that raises is undone alone; closing commits what is queued; a commit the disk
refuses waits for the disk, and is given up only on closing."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from agent_unit_helpers import Disk

from kindfleet.platform.agent import journal as journal_module
from kindfleet.platform.agent.db import AgentDb
from kindfleet.platform.agent.journal import Journal, JournalClosed
from kindfleet.platform.agent.records import WriteSet


class Boom(Exception):
    pass


def _committed(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [json_n for (json_n,) in conn.execute("SELECT seq FROM outbox ORDER BY seq")]
    finally:
        conn.close()


async def test_many_changes_share_few_commits_and_are_durable_when_done(tmp_path: Path):
    path = tmp_path / "agent.db"
    AgentDb(path).close()
    journal = Journal(path, WriteSet)
    futures = [journal.submit(lambda w, i=i: w.append("event", {"n": i})) for i in range(200)]
    first = await futures[0]
    assert first in _committed(path)  # done means committed, seen by another connection
    seqs = await asyncio.gather(*futures)
    assert seqs == list(range(1, 201))  # in the order submitted
    assert _committed(path) == seqs
    assert journal.changes == 200
    assert journal.commits < 200  # queued while a commit was on disk: committed together
    await journal.close()


async def test_a_change_that_raises_is_undone_alone(tmp_path: Path):
    path = tmp_path / "agent.db"
    AgentDb(path).close()
    journal = Journal(path, WriteSet)

    def half_then_boom(w: WriteSet) -> None:
        w.append("event", {"n": -1})
        raise Boom

    good = journal.submit(lambda w: w.append("event", {"n": 1}))
    bad = journal.submit(half_then_boom)
    after = journal.submit(lambda w: w.append("event", {"n": 2}))
    assert await good == 1
    with pytest.raises(Boom):
        await bad
    assert await after == 2  # the failed change took no number
    assert _committed(path) == [1, 2]
    await journal.close()


async def test_close_commits_what_is_queued(tmp_path: Path):
    path = tmp_path / "agent.db"
    AgentDb(path).close()
    journal = Journal(path, WriteSet)
    for i in range(50):
        journal.submit(lambda w, i=i: w.append("event", {"n": i}))
    await journal.close()
    assert _committed(path) == list(range(1, 51))


async def test_settled_waits_for_changes_whose_waiters_were_cancelled(tmp_path: Path):
    """The agent's shutdown cancels its duties while their changes are queued; the last
    flush reads the outbox only once they are committed."""
    path = tmp_path / "agent.db"
    AgentDb(path).close()
    journal = Journal(path, WriteSet)

    async def duty(i: int) -> None:
        await journal.submit(lambda w: w.append("telemetry", {"n": i}))

    tasks = [asyncio.create_task(duty(i)) for i in range(50)]
    await asyncio.sleep(0)  # every duty has submitted its change
    for task in tasks:
        task.cancel()
    await journal.settled()
    assert _committed(path) == list(range(1, 51))
    await journal.close()


async def _refused(disk: Disk, times: int) -> None:
    """Until the writer has begun (and so been refused) `times` more transactions."""
    goal = disk.attempts + times
    for _ in range(1000):  # 10 s: a writer that gave up never begins another
        if disk.attempts >= goal:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{disk.attempts} transaction(s) begun, not {goal}: no retry")


async def test_a_commit_the_disk_refuses_waits_for_space_then_lands_once(
    tmp_path: Path, caplog, monkeypatch
):
    """A full disk is the spoke's trouble, not the change's: failing the change left a
    finished run with no terminal record, reported by nobody (seen on a real tmpfs)."""
    path = tmp_path / "agent.db"
    AgentDb(path).close()
    disk = Disk()
    journal = Journal(path, disk.batch)
    assert await journal.submit(lambda w: w.append("event", {"n": 0})) == 1
    disk.fill(path)
    waiting = [journal.submit(lambda w, i=i: w.append("event", {"n": i})) for i in (1, 2)]
    monkeypatch.setattr(journal_module, "REMIND_EVERY", 0.0)  # a line per attempt
    await _refused(disk, 3)
    assert not any(f.done() for f in waiting)  # neither failed nor committed
    said = caplog.text
    assert "cannot be written (database or disk is full)" in said
    assert "Free space on the disk of the state directory" in said
    assert "still cannot be written, after" in said
    assert _committed(path) == [1]
    disk.free()
    assert await asyncio.gather(*waiting) == [2, 3]  # numbered in order, no gap
    assert _committed(path) == [1, 2, 3]
    assert await journal.submit(lambda w: w.append("event", {"n": 3})) == 4
    assert "is written again, after" in caplog.text
    await journal.close()


async def test_closing_gives_up_a_commit_the_disk_refuses(tmp_path: Path):
    """An agent told to stop on a full disk stops: what the disk would not take fails."""
    path = tmp_path / "agent.db"
    AgentDb(path).close()
    disk = Disk()
    disk.fill(path)
    journal = Journal(path, disk.batch)
    change = journal.submit(lambda w: w.append("event", {"n": 1}))
    await _refused(disk, 2)
    await journal.close()
    with pytest.raises(sqlite3.OperationalError, match="full"):
        await change
    assert _committed(path) == []


async def test_a_database_error_of_the_change_itself_fails_it_alone(tmp_path: Path):
    """Only the disk's refusals are retried: a change's own error is not the disk's."""
    path = tmp_path / "agent.db"
    AgentDb(path).close()
    journal = Journal(path, WriteSet)

    def bad(w: WriteSet) -> None:
        w.execute("INSERT INTO no_such_table VALUES (1)", ())

    good = journal.submit(lambda w: w.append("event", {"n": 1}))
    failing = journal.submit(bad)
    assert await good == 1
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await failing
    await journal.close()


async def test_a_change_after_close_fails_at_once_and_starts_no_writer(tmp_path: Path):
    """A run's task that outlives the stop (its commit given up) must not start a writer
    of its own on a database the agent has closed."""
    path = tmp_path / "agent.db"
    AgentDb(path).close()
    journal = Journal(path, WriteSet)
    assert await journal.submit(lambda w: w.append("event", {"n": 1})) == 1
    await journal.close()
    with pytest.raises(JournalClosed):
        await journal.submit(lambda w: w.append("event", {"n": 2}))
    assert journal._thread is None
    assert _committed(path) == [1]


async def test_a_failure_of_the_writers_own_fails_its_changes_and_the_next_ones_commit(
    tmp_path: Path,
):
    """Not a change's error nor the disk's: the write set itself fails (a bug, a file the
    writer cannot handle). The writer thread ended on it, and every change after it waited
    for ever."""
    path = tmp_path / "agent.db"
    AgentDb(path).close()
    failures = [RuntimeError("the write set failed")]

    class Failing(WriteSet):
        def write(self) -> None:
            if failures:
                raise failures.pop()
            super().write()

    journal = Journal(path, Failing)
    with pytest.raises(RuntimeError, match="the write set failed"):
        await asyncio.wait_for(journal.submit(lambda w: w.append("event", {"n": 1})), 30)
    seq = await asyncio.wait_for(journal.submit(lambda w: w.append("event", {"n": 2})), 30)
    assert _committed(path) == [seq]  # the failed change left nothing
    await journal.close()
