"""The hub's SQLite WAL starts over under steady writes instead of growing while they last.

A reader held in an old snapshot stands for the writer's commits during a checkpoint:
either way the checkpoint cannot copy the whole WAL, and SQLite then appends every later
commit to it. The WAL file's size tells appending (it grows) from starting over (it
does not).
"""

from __future__ import annotations

import os
import sqlite3

import pytest
from sqlalchemy import text

from kindfleet.platform.store import engine as dialect
from kindfleet.platform.store.checkpoints import Checkpointer
from kindfleet.platform.store.writer import Writer


def insert(rows: int):
    def job(conn):
        conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "x" * 3000}] * rows)

    return job


@pytest.mark.parametrize(("restart_frames", "starts_over"), [(1, True), (10**9, False)])
async def test_a_long_wal_is_started_over_by_the_writer(tmp_path, restart_frames, starts_over):
    path = tmp_path / "hub.db"
    engine = dialect.make_engine(dialect.parse_url(f"sqlite:///{path}"))
    checkpointer = Checkpointer(engine, restart_frames=restart_frames)
    writer = Writer(engine, between_groups=checkpointer.finish)
    writer.start()
    beside = engine.raw_connection()
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        await writer.run(
            lambda conn: conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        )
        await writer.run(insert(20))
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM t").fetchone() == (20,)
        await writer.run(insert(20))
        checkpointer.run_once(beside)  # copies what the reader's snapshot allows, no more
        reader.execute("COMMIT")
        wal = os.path.getsize(f"{path}-wal")

        await writer.run(lambda conn: None)  # a group, then the writer's turn between groups
        await writer.run(insert(5))

        assert (os.path.getsize(f"{path}-wal") <= wal) is starts_over
        assert reader.execute("SELECT count(*) FROM t").fetchone() == (45,)
    finally:
        reader.close()
        beside.close()
        writer.close()
        engine.dispose()
