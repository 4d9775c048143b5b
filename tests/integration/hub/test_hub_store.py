"""The store on both databases: group commit keeps jobs apart, one hub per store, the
schema version is checked, and what a 2xx promised is on disk."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from kindfleet.errors import PrerequisiteError
from kindfleet.platform.hub.rules.queue import PendingQueue
from kindfleet.platform.hub.service.reads import ListQuery
from kindfleet.platform.hub.service.refusals import Conflict
from kindfleet.platform.hub.service.submit import Submitted, prepare, submit_many
from kindfleet.platform.store import Database, Refusal, StoreUnavailable
from kindfleet.platform.store.checkpoints import WAL_SIZE_LIMIT
from kindfleet.platform.store.engine import driver_many, driver_rows, multi_insert
from kindfleet.platform.store.schema import SCHEMA_VERSION, meta, workload_labels, workloads


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
    """A store written by an older hub (schema 1: no approval, drain or selector columns,
    no labels trigger) is brought up to date in place: its spokes stay approved, its
    workloads keep their selectors (filled in from their specs) and are still served, and
    new work's labels are written by the trigger the migration made."""
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
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER kf_workload_labels_fill"))  # schema 3's
        conn.execute(meta.update().where(meta.c.key == "schema").values(value="1"))

    await old.writer.run(to_schema_1)
    old.close()

    hub = await hubs.start()
    again = await hub.get(sub.workload.id)
    assert again.spec.selector.match_labels == {"pool": "gpu"}
    new = await hub.submit("new-work", make_spec(labels={"team": "after"}))
    found = await hub.list_workloads(ListQuery(labels={"team": "after"}))
    assert [w.id for w in found.items] == [new.workload.id]
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
    assert schema == SCHEMA_VERSION
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


# Labels as a client may send them: quotes, backslashes, JSON's escapes, every plane.
HOSTILE_LABELS = {
    'a"b\\c': "\u00fc\U0001f600",
    "\u00e9/\u043a\u043b\u044e\u0447": "\t\n\u2028",
    "empty": "",
    "k" * 317: "v" * 63,
    "\U0001f600": "\U0010ffff",
    "$.labels": "[1]",
}


def _labels_of(conn, wid: str) -> dict[str, str]:
    L = workload_labels.c
    return dict(conn.execute(select(L.key, L.value).where(L.workload_id == wid)).all())


async def test_a_group_answers_each_submission_as_if_alone(db, make_spec):
    """Single submissions are grouped and inserted at once, a stored key skipped by the
    insert itself: every answer, seq, label and queue entry must be what one submission
    at a time would give: new keys, retries of stored ones (same spec: the stored work;
    another spec: 409), and repeats of a key within the group."""
    queue = PendingQueue()
    stored = prepare("stored", make_spec(labels={"team": "a"}), 1.0)
    first = await db.writer.run(lambda conn: submit_many(conn, [stored], queue=queue))
    assert isinstance(first[0], Submitted) and first[0].created
    old = first[0].record

    a = prepare("key-a", make_spec(labels=HOSTILE_LABELS, env={"Z": "a\x01\x7f\\u0000b"}), 2.0)
    b = prepare("key-b", make_spec(name="other"), 2.0)
    group = [
        a,
        prepare("stored", make_spec(labels={"team": "a"}), 2.0),  # a retry
        prepare("stored", make_spec(labels={"team": "b"}), 2.0),  # another spec: 409
        prepare("key-a", make_spec(labels=HOSTILE_LABELS, env={"Z": "a\x01\x7f\\u0000b"}), 2.0),
        prepare("key-a", make_spec(name="not-a"), 2.0),  # 409, naming a's workload
        b,
    ]
    out = await db.writer.run(lambda conn: submit_many(conn, group, queue=queue))

    new_a, retry, clash, again_a, clash_a, new_b = out
    assert isinstance(new_a, Submitted) and new_a.created and new_a.record.id == a.workload_id
    assert isinstance(new_b, Submitted) and new_b.created and new_b.record.id == b.workload_id
    assert isinstance(retry, Submitted) and not retry.created and retry.record.id == old.id
    assert isinstance(again_a, Submitted) and not again_a.created
    assert again_a.record.id == a.workload_id
    assert isinstance(clash, Conflict) and old.id in clash.detail
    assert isinstance(clash_a, Conflict) and a.workload_id in clash_a.detail

    def stored_rows(conn):
        W = workloads.c
        rows = conn.execute(select(W.id, W.seq, W.idem_hash).order_by(W.seq)).all()
        return rows, {wid: _labels_of(conn, wid) for wid, _, _ in rows}

    fresh = [prepare(f"fresh-{i}", make_spec(labels={"i": str(i)}), 3.0) for i in range(3)]
    made = await db.writer.run(lambda conn: submit_many(conn, fresh, queue=queue))
    assert all(isinstance(m, Submitted) and m.created for m in made)

    rows, labels = await db.writer.run(stored_rows)
    ids = [old.id, a.workload_id, b.workload_id, *(i.workload_id for i in fresh)]
    assert [r.id for r in rows] == ids
    seqs = {r.id: r.seq for r in rows}
    answered = [old, new_a.record, new_b.record, *(m.record for m in made)]  # type: ignore[union-attr]
    assert [rec.seq for rec in answered] == [seqs[i] for i in ids]
    assert again_a.record.seq == seqs[a.workload_id] and retry.record.seq == seqs[old.id]
    assert labels == {
        old.id: {"team": "a"},
        a.workload_id: HOSTILE_LABELS,
        b.workload_id: {},
        **{i.workload_id: {"i": str(n)} for n, i in enumerate(fresh)},
    }
    assert sorted(queue.ids(), key=queue.position) == ids


async def test_a_batch_with_a_conflict_writes_nothing(db, make_spec):
    """A batch is all or nothing: a key repeated in it with another spec refuses it
    before anything is stored, as a key stored before with another spec does."""
    queue = PendingQueue()
    await db.writer.run(
        lambda conn: submit_many(conn, [prepare("stored", make_spec(), 1.0)], queue=queue)
    )
    repeated = [
        prepare("fresh", make_spec(labels={"x": "1"}), 2.0),
        prepare("twice", make_spec(), 2.0),
        prepare("twice", make_spec(name="changed"), 2.0, path="items[2]."),
    ]
    retried = [prepare("fresh", make_spec(), 2.0), prepare("stored", make_spec(name="b"), 2.0)]
    for batch in (repeated, retried):
        with pytest.raises(Conflict, match="idempotency key was already used"):
            await db.writer.run(
                lambda conn, batch=batch: submit_many(conn, batch, queue=queue, atomic=True)
            )

    def count(conn):
        return (
            conn.execute(select(text("count(*)")).select_from(workloads)).scalar(),
            conn.execute(select(text("count(*)")).select_from(workload_labels)).scalar(),
        )

    assert await db.writer.run(count) == (1, 0)
    assert len(queue) == 1


async def test_a_retry_whose_new_id_is_another_workloads_is_still_a_retry(db, make_spec):
    """A retry's key is skipped by the insert; the fresh id it carried must not be taken
    for its own even when another workload has that id (ids are made in time order, and
    a clock that went back could make one again)."""
    import dataclasses

    queue = PendingQueue()
    mine = prepare("mine", make_spec(name="mine"), 1.0)
    other = prepare("other", make_spec(name="other", resources={"cpu": "4"}), 1.0)
    first = await db.writer.run(lambda conn: submit_many(conn, [mine, other], queue=queue))
    retry = dataclasses.replace(
        prepare("mine", make_spec(name="mine"), 2.0), workload_id=other.workload_id
    )
    fresh = prepare("fresh", make_spec(name="fresh"), 2.0)
    out = await db.writer.run(lambda conn: submit_many(conn, [retry, fresh], queue=queue))

    again, new = out
    assert isinstance(again, Submitted) and not again.created
    assert again.record.id == mine.workload_id and again.record.spec.name == "mine"
    assert isinstance(new, Submitted) and new.created
    assert again.record.seq == first[0].record.seq  # type: ignore[union-attr]
    assert sorted(queue.ids(), key=queue.position) == [
        mine.workload_id,
        other.workload_id,
        fresh.workload_id,
    ]


async def test_a_restarted_hub_makes_ids_above_the_stores_though_its_clock_went_back(
    hubs, make_spec, monkeypatch
):
    """Ids are made in time order; a hub whose clock is behind the last one's (a restored
    snapshot, a stepped clock) starts above the greatest id in the store instead."""
    from types import SimpleNamespace

    from kindfleet.platform.hub.service import submit as submit_module

    hub = await hubs.start()
    first = await hub.submit("before", make_spec())
    await hubs.stop(hub)
    monkeypatch.setattr(submit_module, "_ids", {"last": 0})  # as a new process starts
    monkeypatch.setattr(submit_module, "time", SimpleNamespace(time=lambda: 1_000_000_000.0))
    hub = await hubs.start()
    made = [await hub.submit(f"after-{i}", make_spec()) for i in range(3)]
    ids = [first.workload.id, *(m.workload.id for m in made)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


@pytest.mark.parametrize("encoding", ["LATIN1", "SQL_ASCII"])
async def test_a_postgresql_database_must_hold_any_text(postgres, make_spec, encoding):
    """A database whose encoding cannot hold all of Unicode (LATIN1) would fail a whole
    transaction on a label or a spoke's message it cannot hold, again at every retry: it
    is refused when the store opens, saying how to make one. SQL_ASCII keeps the bytes it
    is given: labels and specs in any script are stored and read back."""
    import uuid as uuid_module

    name = f"kf_{encoding.lower()}_{uuid_module.uuid4().hex[:8]}"
    with postgres.admin() as conn:
        conn.execute(
            f"CREATE DATABASE \"{name}\" ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C' "
            "TEMPLATE template0"
        )
    db = Database(postgres.url(name))
    try:
        if encoding == "LATIN1":
            with pytest.raises(PrerequisiteError, match="database is in LATIN1") as refused:
                await db.open()
            assert "ENCODING 'UTF8'" in str(refused.value.hint)
            return
        await db.open()
        labels = {"team": "caf\u00e9", "\u043a\u043b\u044e\u0447": "\U0001f600"}
        spec = make_spec(command=["echo", "\u0436\U0001f600"], labels=labels)
        item = prepare("any-script", spec, 1.0)
        out = await db.writer.run(lambda conn: submit_many(conn, [item], queue=PendingQueue()))
        assert isinstance(out[0], Submitted) and out[0].created
        assert await db.writer.run(lambda conn: _labels_of(conn, item.workload_id)) == labels
    finally:
        db.close()
        with postgres.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_a_sqlite_too_old_for_the_store_is_refused_with_what_to_do(tmp_path, monkeypatch):
    """The writer's statements need SQLite 3.24 (ON CONFLICT DO NOTHING) with JSON: an
    older library is refused when the store opens, not at the first submission."""
    from sqlite3 import dbapi2  # what SQLAlchemy's driver reads

    from kindfleet.platform.store.engine import sqlite_problem

    monkeypatch.setattr(dbapi2, "sqlite_version_info", (3, 23, 1))
    database = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    with pytest.raises(PrerequisiteError, match=r"is 3\.23\.1; the hub needs 3\.24") as refused:
        await database.open()
    assert "postgresql+psycopg://" in str(refused.value.hint)
    assert sqlite_problem((3, 37, 2), has_json=False) == (
        "the SQLite library Python uses (3.37.2) was built without JSON"
    )
    assert sqlite_problem((3, 40, 1), has_json=True) is None


async def test_a_postgresql_store_with_schema_3s_labels_trigger_loses_it(pg_url, make_spec):
    """Schema 3's first code gave PostgreSQL stores a labels trigger too; the hub now
    inserts labels there itself, so such a store (at schema 3) is migrated: the trigger
    goes, submissions with labels are stored once, their labels once."""
    db = Database(pg_url)
    await db.open()

    def as_schema_3(conn) -> None:
        conn.exec_driver_sql(
            """CREATE FUNCTION kf_workload_labels_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO kf_workload_labels (key, value, workload_id)
  SELECT l.key, l.value, n.id FROM new_workloads n, json_each_text(n.spec::json -> 'labels') l;
  RETURN NULL;
END $$"""
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER kf_workload_labels_fill AFTER INSERT ON kf_workloads REFERENCING "
            "NEW TABLE AS new_workloads FOR EACH STATEMENT EXECUTE FUNCTION "
            "kf_workload_labels_fill()"
        )
        conn.execute(meta.update().where(meta.c.key == "schema").values(value="3"))

    await db.writer.run(as_schema_3)
    db.close()
    db = Database(pg_url)
    await db.open()
    try:
        item = prepare("labelled", make_spec(labels={"team": "a", "tier": "b"}), 1.0)
        out = await db.writer.run(lambda conn: submit_many(conn, [item], queue=PendingQueue()))
        assert isinstance(out[0], Submitted) and out[0].created

        def found(conn):
            triggers = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_trigger WHERE tgname = 'kf_workload_labels_fill'"
            ).scalar()
            return triggers, _labels_of(conn, item.workload_id)

        assert await db.writer.run(found) == (0, {"team": "a", "tier": "b"})
    finally:
        db.close()
