"""The store on both databases: group commit keeps jobs apart, one hub per store, the
schema version is checked, and what a 2xx promised is on disk."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from kindfleet.errors import PrerequisiteError
from kindfleet.platform.store import Database, Refusal, StoreUnavailable
from kindfleet.platform.store.checkpoints import WAL_SIZE_LIMIT
from kindfleet.platform.store.engine import driver_many, driver_rows, multi_insert
from kindfleet.platform.store.schema import meta, workloads


class Nope(Refusal):
    pass


@pytest.fixture
async def db(store_url):
    database = Database(store_url)
    await database.open()
    yield database
    database.close()


async def test_a_failing_job_does_not_fail_its_group(db):
    def good(n):
        return lambda conn: conn.execute(select(workloads.c.seq).limit(1)).all() or n

    def broken(conn):
        conn.execute(text("SELECT * FROM no_such_table"))

    def refused(conn):
        raise Nope("not this one")

    results = await asyncio.gather(
        *(db.writer.run(good(i)) for i in range(10)),
        db.writer.run(broken),
        db.writer.run(refused),
        return_exceptions=True,
    )
    assert results[:10] == list(range(10))
    assert isinstance(results[10], StoreUnavailable)
    assert "no_such_table" in str(results[10])
    assert isinstance(results[11], Nope)


async def test_one_hub_per_store(db, store_url):
    second = Database(store_url, lock_wait_seconds=0.2)
    with pytest.raises(PrerequisiteError, match="another hub is already using the store"):
        await second.open()
    second.close()


async def test_the_lock_is_released_on_close(store_url):
    first = Database(store_url)
    await first.open()
    first.close()
    second = Database(store_url, lock_wait_seconds=1)
    await second.open()
    await second.ping()
    second.close()


async def test_a_newer_schema_is_refused(db, store_url):
    await db.writer.run(
        lambda conn: conn.execute(meta.update().where(meta.c.key == "schema").values(value="99"))
    )
    db.close()
    again = Database(store_url)
    with pytest.raises(PrerequisiteError, match="schema version 99"):
        await again.open()
    again.close()


async def test_sqlite_is_wal_with_full_sync(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    await database.open()

    def pragmas(conn):
        return (
            conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
            conn.exec_driver_sql("PRAGMA synchronous").scalar(),
            conn.exec_driver_sql("PRAGMA journal_size_limit").scalar(),
        )

    assert await database.writer.run(pragmas) == ("wal", 2, WAL_SIZE_LIMIT)  # 2 = FULL
    database.close()


async def test_a_schema_1_store_is_migrated_and_its_work_kept(hubs, store_url, make_spec):
    """A store written by the previous hub (schema 1: no approval, drain or selector
    columns) is brought up to date in place: its spokes stay approved, its workloads keep
    their selectors (filled in from their specs) and are still served."""
    hub = await hubs.start()
    selector = {"match_labels": {"pool": "gpu"}}
    sub = await hub.submit("old-work", make_spec(selector=selector))
    await hubs.stop(hub)

    old = Database(store_url)
    await old.open()

    def to_schema_1(conn) -> None:
        for table, column in (
            ("kf_spokes", "approved"),
            ("kf_spokes", "draining"),
            ("kf_spokes", "established"),
            ("kf_workloads", "selector"),
        ):
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(meta.update().where(meta.c.key == "schema").values(value="1"))

    await old.writer.run(to_schema_1)
    old.close()

    hub = await hubs.start()
    again = await hub.get(sub.workload.id)
    assert again.spec.selector.match_labels == {"pool": "gpu"}
    await hubs.stop(hub)
    db = Database(store_url)
    await db.open()
    try:
        schema, stored = await db.writer.run(
            lambda conn: (
                conn.execute(select(meta.c.value).where(meta.c.key == "schema")).scalar(),
                conn.execute(select(workloads.c.selector)).scalar(),
            )
        )
    finally:
        db.close()
    assert schema == "2"
    assert stored == '{"match_expressions":[],"match_labels":{"pool":"gpu"}}'


async def test_a_write_by_the_driver_alone_ends_a_store_outage(store_url):
    """The hot statements bypass SQLAlchemy's events: their commits must still tell the hub
    that the store takes writes again (it counts the time between as deaf), and a read
    must not."""
    seen: list[bool] = []
    database = Database(store_url, on_health=seen.append)
    await database.open()
    try:
        mark = param_mark_of(database)

        def broken(conn):
            conn.execute(text("SELECT * FROM no_such_table"))

        for write in (
            lambda conn: multi_insert(conn, meta, [{"key": "probe", "value": "1"}]),
            lambda conn: driver_many(
                conn, f"UPDATE {meta.name} SET value = {mark} WHERE key = {mark}", [("2", "probe")]
            ),
        ):
            seen.clear()
            with pytest.raises(StoreUnavailable):
                await database.writer.run(broken)
            await database.writer.run(lambda conn: driver_rows(conn, "SELECT 1", []))
            assert seen == [False]
            await database.writer.run(write)
            assert seen == [False, True]
    finally:
        database.close()


def param_mark_of(database: Database) -> str:
    return "?" if database.sqlite else "%s"


async def test_the_writers_reads_find_what_the_schema_query_finds(db, make_spec):
    """The writer's hottest reads are written as SQL for the driver: each must find the
    rows, in the order, that the same question asked through the schema finds, flags and
    states of every kind mixed."""
    from itertools import product

    from sqlalchemy import and_, false, or_, true, update

    from kindfleet.platform.hub.rules.queue import PendingQueue
    from kindfleet.platform.hub.service.submit import prepare, submit_many
    from kindfleet.platform.store import workloads as store

    W = workloads.c
    shapes = list(product(("Pending", "Assigned", "Running", "Succeeded"), ("s1", "s2", None),
                          (False, True), (False, True)))  # fmt: skip
    items = [prepare(f"key-{i}", make_spec(), 1.0) for i in range(len(shapes))]

    def fill(conn):
        made = submit_many(conn, items, queue=PendingQueue())
        for sub, (state, spoke, accepted, cancel) in zip(made, reversed(shapes), strict=True):
            conn.execute(
                update(workloads)
                .where(W.id == sub.record.id)
                .values(state=state, spoke=spoke, accepted=accepted, cancel_requested=cancel)
            )
        return [sub.record for sub in made]

    records = await db.writer.run(fill)
    ids = [rec.id for rec in records]

    def compare(conn):
        def schema(*where):
            query = select(workloads).where(*where).order_by(W.seq)
            return [tuple(row) for row in conn.execute(query)]

        active = W.state.in_(("Assigned", "Running"))
        due = or_(and_(W.state == "Assigned", W.accepted == false()), W.cancel_requested == true())
        for spoke in ("s1", "s2", "s3"):  # s3 has no work
            running = [tuple(r) for r in store.active_on(conn, spoke)]
            assert running == schema(W.spoke == spoke, active)
            found = [tuple(r) for r in store.deliverable_on(conn, spoke)]
            assert found == schema(W.spoke == spoke, active, due)
            assert bool(found) == (spoke != "s3")
        picked = ids[::3] + ids[:2]  # repeats asked for are found once
        found = sorted(tuple(r) for r in store.by_ids(conn, picked))
        assert found == sorted(schema(W.id.in_(picked)))
        hashes = [item.idem_hash for item in items[1::2]]
        by_hash = store.by_idem(conn, [*hashes, "no-such-hash"])
        assert {h: tuple(r) for h, r in by_hash.items()} == {
            row[workloads.columns.keys().index("idem_hash")]: row
            for row in schema(W.idem_hash.in_(hashes))
        }
        assert sorted(by_hash) == sorted(hashes)

    await db.writer.run(compare)
