"""Workload queries: the statements behind submission, the queue, the lists and the sweep.

Functions take a Connection inside a transaction the caller (the writer) owns and never
commit. They speak in column values; turning rows into the hub's records is the hub's job.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Row,
    Table,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
)

from kindfleet.platform.store.engine import (
    driver_many,
    driver_rows,
    multi_insert,
    multi_insert_rowids,
    param_mark,
)
from kindfleet.platform.store.schema import workload_labels, workloads

W = workloads.c
ACTIVE = ("Assigned", "Running")
CHUNK = 500  # keeps every IN (...) under SQLite's bound-parameter limit
INSERT_CHUNK = 500  # rows per multi-row INSERT (500 x 23 columns < 32766 parameters)

# Columns the lifecycle changes; everything else is fixed at submission.
MUTABLE = (
    "state",
    "generation",
    "spoke",
    "retries_used",
    "cancel_requested",
    "accepted",
    "delivered_at",
    "cancel_delivered_at",
    "reason",
    "message",
    "attempts",
    "updated_at",
    "deadline_at",
)

# The writer's other frequent statements, built once: building a statement and its cache
# key costs SQLAlchemy about 0.3 ms here, four times what running the built one costs (20
# workloads by id: 0.61 ms built each call, 0.24 ms prebuilt; the driver's text, below,
# costs less again, which is why the hottest reads are written that way).
_by_id = select(workloads).where(W.id == bindparam("id"))
_allocations = (
    select(
        W.spoke, func.sum(W.cpu_millis), func.sum(W.memory_bytes), func.sum(W.gpus), func.count()
    )
    .where(W.state.in_(ACTIVE))
    .group_by(W.spoke)
)
_overdue = (
    select(workloads)
    .where(W.deadline_at <= bindparam("now"))
    .order_by(W.deadline_at)
    .limit(bindparam("limit", type_=Integer(), literal_execute=True))
)


def insert(
    conn: Connection,
    rows: Sequence[Mapping[str, Any]],
    labels: Mapping[str, Mapping[str, str]],
) -> dict[str, int]:
    """Store new workloads, each unless its idempotency key is stored already: that row is
    skipped, not refused. The seq the store gave each row it stored, by id. `labels` maps
    an id to its spec's labels: SQLite writes them itself (`schema.LABELS_TRIGGER`)."""
    put = _insert_sqlite if conn.dialect.name == "sqlite" else _insert_returning
    seqs: dict[str, int] = {}
    for start in range(0, len(rows), INSERT_CHUNK):
        seqs.update(put(conn, rows[start : start + INSERT_CHUNK], labels))
    return seqs


def greatest_id(conn: Connection) -> str | None:
    """The greatest workload id in the store (by its index: one step)."""
    found = driver_rows(conn, f"SELECT max(id) FROM {workloads.name}", [])
    return str(found[0][0]) if found and found[0][0] is not None else None


def _insert_sqlite(
    conn: Connection, chunk: Sequence[Mapping[str, Any]], _labels: Mapping[str, Any]
) -> dict[str, int]:
    given = multi_insert_rowids(conn, workloads, chunk, skip_on="idem_hash")
    if given is not None:
        return dict(zip((row["id"] for row in chunk), given, strict=True))
    # A key was stored already: which rows went in, asked. By id and key both: a row
    # skipped for its key may carry an id another workload has.
    mine = {(row["id"], row["idem_hash"]) for row in chunk}
    found = by_ids(conn, [row["id"] for row in chunk])
    return {row.id: int(row.seq) for row in found if (row.id, row.idem_hash) in mine}


def _insert_returning(
    conn: Connection, chunk: Sequence[Mapping[str, Any]], labels: Mapping[str, Mapping[str, str]]
) -> dict[str, int]:
    """PostgreSQL: the rows that went in are returned; their labels are inserted here."""
    found = multi_insert(conn, workloads, chunk, ("id", "seq"), skip_on="idem_hash")
    seqs = {wid: int(seq) for wid, seq in found}
    insert_values(
        conn,
        workload_labels,
        [
            {"key": key, "value": value, "workload_id": wid}
            for wid in seqs
            for key, value in labels[wid].items()
        ],
    )
    return seqs


def insert_values(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    for start in range(0, len(rows), INSERT_CHUNK):
        multi_insert(conn, table, rows[start : start + INSERT_CHUNK])


# The writer's hottest reads of whole workloads (every submission, report, poll and
# placement) run by the driver: SQLAlchemy's statement and row machinery cost more than
# SQLite takes to find the rows. Rows come back as `WorkloadRow`s, named as the columns;
# booleans may come back as 0 and 1 (SQLite), which is how the hub reads them anyway.
WorkloadRow = collections.namedtuple(  # type: ignore[misc]  # fields from the table
    "WorkloadRow", [c.name for c in workloads.columns]
)
_ALL = ",".join(WorkloadRow._fields)


def _whole(conn: Connection, where: str, params: Sequence[Any]) -> list[Any]:
    sql = f"SELECT {_ALL} FROM {workloads.name} WHERE {where}"
    return list(map(WorkloadRow._make, driver_rows(conn, sql, params)))


def _where_in(conn: Connection, column: str, count: int) -> str:
    return f"{column} IN ({','.join([param_mark(conn)] * count)})"


def by_idem(conn: Connection, hashes: Iterable[str]) -> dict[str, Any]:
    """Whole workloads by the hash of their idempotency key."""
    found: dict[str, Any] = {}
    for chunk in _chunks(list(hashes)):
        for row in _whole(conn, _where_in(conn, "idem_hash", len(chunk)), chunk):
            found[row.idem_hash] = row
    return found


def by_ids(conn: Connection, ids: Iterable[str]) -> list[Any]:
    """Whole workloads by id (each once, however often asked for)."""
    rows: list[Any] = []
    for chunk in _chunks(list(dict.fromkeys(ids))):
        rows += _whole(conn, _where_in(conn, "id", len(chunk)), chunk)
    return rows


def by_id(conn: Connection, workload_id: str) -> Row[Any] | None:
    return conn.execute(_by_id, {"id": workload_id}).first()


def page(
    conn: Connection,
    *,
    limit: int,
    before: int | None = None,
    state: str | None = None,
    spoke: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> list[Row[Any]]:
    """Newest first; `before` is the seq of the last item of the previous page."""
    query = select(workloads).order_by(W.seq.desc()).limit(limit)
    if before is not None:
        query = query.where(W.seq < before)
    if state is not None:
        query = query.where(W.state == state)
    if spoke is not None:
        query = query.where(W.spoke == spoke)
    for key, value in (labels or {}).items():
        L = workload_labels.c
        query = query.where(
            exists().where(and_(L.workload_id == W.id, L.key == key, L.value == value))
        )
    return list(conn.execute(query).all())


# What a listing shows of a workload, in this order (`page_rows`, `row_by_id`): every
# column of the wire `Workload` but the spec, which is looked up by its hash (`specs`).
SHOWN = (
    "seq",
    "id",
    "spec_hash",
    "state",
    "generation",
    "spoke",
    "retries_used",
    "cancel_requested",
    "reason",
    "message",
    "attempts",
    "submitted_at",
    "updated_at",
)
_COLUMNS = ",".join(SHOWN)


def page_rows(
    conn: Connection,
    *,
    limit: int,
    before: int | None = None,
    state: str | None = None,
    spoke: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> list[Sequence[Any]]:
    """As `page`, but only the `SHOWN` columns, as the driver's own tuples: a listing is
    the hub's most frequent read, and SQLAlchemy's statement and row machinery cost more
    than SQLite takes to find and read the rows (1.2 of 1.9 ms for a page of 100)."""
    mark = param_mark(conn)
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("seq <", before), ("state =", state), ("spoke =", spoke)):
        if value is not None:
            where.append(f"{column} {mark}")
            params.append(value)
    for key, value in (labels or {}).items():
        where.append(
            f"EXISTS (SELECT 1 FROM {workload_labels.name} l WHERE l.workload_id = "
            f"{workloads.name}.id AND l.key = {mark} AND l.value = {mark})"
        )
        params += [key, value]
    sql = (
        f"SELECT {_COLUMNS} FROM {workloads.name}"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY seq DESC LIMIT {mark}"
    )
    return driver_rows(conn, sql, [*params, limit])


def row_by_id(conn: Connection, workload_id: str) -> Sequence[Any] | None:
    """One workload's `SHOWN` columns."""
    sql = f"SELECT {_COLUMNS} FROM {workloads.name} WHERE id = {param_mark(conn)}"
    rows = driver_rows(conn, sql, [workload_id])
    return rows[0] if rows else None


def specs(conn: Connection, seqs: Iterable[int]) -> dict[str, str]:
    """Spec text by spec hash, for the workloads `seqs`."""
    found: dict[str, str] = {}
    wanted = list(dict.fromkeys(seqs))
    for start in range(0, len(wanted), CHUNK):
        query = select(W.spec_hash, W.spec).where(W.seq.in_(wanted[start : start + CHUNK]))
        found.update((h, text) for h, text in conn.execute(query))
    return found


def pending(
    conn: Connection,
    *,
    limit: int,
    after: tuple[int, int] | None = None,
    at_most: tuple[int, int, int] | None = None,
) -> list[Row[Any]]:
    """Pending work in queue order (priority desc, seq asc), one page after `after`.

    `at_most` (cpu, memory, gpus) skips work no spoke could take anyway, so a deep queue
    of big jobs costs the placement pass nothing while the fleet is full.
    """
    query = (
        select(workloads)
        .where(W.state == "Pending")
        .order_by(W.priority.desc(), W.seq.asc())
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL only; SQLite ignores it
    )
    if after is not None:
        priority, seq = after
        query = query.where(or_(W.priority < priority, and_(W.priority == priority, W.seq > seq)))
    if at_most is not None:
        cpu, memory, gpus = at_most
        query = query.where(W.cpu_millis <= cpu, W.memory_bytes <= memory, W.gpus <= gpus)
    return list(conn.execute(query).all())


def queued(conn: Connection) -> list[Any]:
    """What the hub's in-memory queue is rebuilt from: Pending work, columns only (no spec)."""
    query = select(
        W.id, W.seq, W.priority, W.cpu_millis, W.memory_bytes, W.gpus, W.selector, W.attempts
    ).where(W.state == "Pending")
    return list(conn.execute(query).all())


def active_on(conn: Connection, spoke: str) -> list[Any]:
    """The spoke's Assigned and Running work, oldest first."""
    mark = param_mark(conn)
    where = f"spoke = {mark} AND state IN ({mark},{mark}) ORDER BY seq"
    return _whole(conn, where, [spoke, *ACTIVE])


def acknowledged_on(conn: Connection, spoke: str) -> list[tuple[str, int]]:
    """(id, generation) of the spoke's Assigned work it has acknowledged: what each of its
    heartbeats must list (the whole rows are read only for what it does not)."""
    mark = param_mark(conn)
    sql = (
        f"SELECT id, generation FROM {workloads.name} "
        f"WHERE spoke = {mark} AND state = {mark} AND accepted = {mark}"
    )
    return [(str(i), int(g)) for i, g in driver_rows(conn, sql, [spoke, "Assigned", True])]


def deliverable_on(conn: Connection, spoke: str) -> list[Any]:
    """The spoke's active work an assignment poll may have to send: assigned and not yet
    acknowledged, or with a cancellation to carry. The rest (acknowledged or running, with
    nothing to cancel) is never due, and on a busy spoke it is most of its work: the poll
    runs on the writer, many times a second per spoke."""
    mark = param_mark(conn)
    where = (
        f"spoke = {mark} AND state IN ({mark},{mark}) AND ((state = {mark} AND accepted = "
        f"{mark}) OR cancel_requested = {mark}) ORDER BY seq"
    )
    return _whole(conn, where, [spoke, *ACTIVE, "Assigned", False, True])


def allocations(conn: Connection) -> dict[str, tuple[int, int, int, int]]:
    """Per spoke: requested cpu, memory, gpus of its Assigned and Running work, and a count."""
    return {
        row[0]: (int(row[1]), int(row[2]), int(row[3]), int(row[4]))
        for row in conn.execute(_allocations)
        if row[0] is not None
    }


def overdue(conn: Connection, now: float, limit: int = 1000) -> list[Row[Any]]:
    """Pending work whose give-up deadline has passed.

    Only Pending work carries a deadline_at, so the deadline index alone finds it; the
    state test is kept for safety but is not what the query searches by.
    """
    rows = conn.execute(_overdue, {"now": now, "limit": limit}).all()
    return [row for row in rows if row.state == "Pending"]


def save(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write back the mutable columns of changed records (each row carries its `seq`)."""
    values = [(*(row[k] for k in MUTABLE), row["seq"]) for row in rows]
    driver_many(conn, _save_sql(param_mark(conn)), values)


@functools.cache
def _save_sql(mark: str) -> str:
    """`save`'s UPDATE in the driver's placeholder style, written once per style."""
    sets = ", ".join(f"{name} = {mark}" for name in MUTABLE)
    return f"UPDATE {workloads.name} SET {sets} WHERE seq = {mark}"


def queue_spot(conn: Connection, priority: int, seq: int) -> tuple[int, int]:
    """(position, length) of a Pending workload in the queue; position 1 goes next."""
    pending_ = W.state == "Pending"
    ahead = or_(W.priority > priority, and_(W.priority == priority, W.seq < seq))
    ahead_count = conn.execute(select(func.count()).where(pending_, ahead)).scalar_one()
    length = conn.execute(select(func.count()).where(pending_)).scalar_one()
    return int(ahead_count) + 1, int(length)


def queue_length(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).where(W.state == "Pending")).scalar_one())


def count_by_state(conn: Connection) -> dict[str, int]:
    query = select(W.state, func.count()).group_by(W.state)
    return {row[0]: int(row[1]) for row in conn.execute(query)}


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]
