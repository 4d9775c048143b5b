"""Read-side jobs: a workload, pages of workloads, explain, spokes, telemetry.

Each is a plain function of a Connection, run by one of the store's readers in a snapshot
of its own (never by the writer); they build wire models from records so that no
database row ever leaves the hub as an API body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from kindfleet.platform.hub.rules.placement import Amount, QueueSpot, SpokeView, explain_pending
from kindfleet.platform.hub.rules.times import utc
from kindfleet.platform.hub.rules.views import describe, to_wire
from kindfleet.platform.hub.service import wirejson
from kindfleet.platform.hub.service.refusals import Invalid, NotFound
from kindfleet.platform.hub.service.rows import record
from kindfleet.platform.hub.service.submit import valid_id
from kindfleet.platform.hub.service.wirejson import WorkloadJson
from kindfleet.platform.store import spokes as spoke_store
from kindfleet.platform.store import telemetry as telemetry_store
from kindfleet.platform.store import workloads as store
from kindfleet.platform.wire import (
    Capacity,
    Explanation,
    Spoke,
    SpokeHealth,
    SpokeList,
    TelemetryPoint,
    TelemetrySeries,
    Workload,
    WorkloadList,
    WorkloadState,
)

# Matched whole (`fullmatch`): `$` alone would let a trailing newline through.
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
MAX_NAME = 63
MAX_LABEL_FILTERS = 16


def is_name(value: str) -> bool:
    return len(value) <= MAX_NAME and _NAME.fullmatch(value) is not None


def get(conn: Connection, workload_id: str) -> Workload:
    return to_wire(record(row_of(conn, workload_id)))


def row_of(conn: Connection, workload_id: str) -> Any:
    row = store.by_id(conn, workload_id) if valid_id(workload_id) else None
    if row is None:
        raise NotFound(f"no workload {workload_id!r}")
    return row


@dataclass(frozen=True, slots=True)
class ListQuery:
    limit: int = 100
    before: int | None = None
    state: WorkloadState | None = None
    spoke: str | None = None
    labels: Mapping[str, str] | None = None


def parse_list_query(
    *,
    limit: int,
    cursor: str | None,
    state: WorkloadState | None,
    spoke: str | None,
    labels: list[str],
) -> ListQuery:
    before = None
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 18:
            raise Invalid.at("query.cursor", "is not a cursor this hub gave out")
        before = int(cursor)
    if spoke is not None and not is_name(spoke):
        raise Invalid.at("query.spoke", "is not a spoke name")
    if len(labels) > MAX_LABEL_FILTERS:
        raise Invalid.at("query.label", f"at most {MAX_LABEL_FILTERS} label filters at once")
    wanted: dict[str, str] = {}
    for item in labels:
        key, sep, value = item.partition("=")
        if not sep or not key or _unsafe(key) or _unsafe(value) or len(value) > 63:
            raise Invalid.at(
                "query.label",
                "must be key=value (no control characters; key at most 317, value at most 63)",
            )
        wanted[key] = value
    return ListQuery(limit, before, state, spoke, wanted or None)


def _unsafe(text: str) -> bool:
    return any(ord(ch) < 32 for ch in text) or len(text) > 317


def page(conn: Connection, q: ListQuery) -> WorkloadList:
    rows = store.page(
        conn,
        limit=q.limit,
        before=q.before,
        state=q.state.value if q.state else None,
        spoke=q.spoke,
        labels=q.labels,
    )
    cursor = str(rows[-1].seq) if len(rows) == q.limit else None
    return WorkloadList(items=[to_wire(record(r)) for r in rows], next_cursor=cursor)


def page_json(conn: Connection, q: ListQuery, cache: WorkloadJson) -> bytes:
    """`page(conn, q).model_dump_json()`, byte for byte, from the columns (`wirejson`).
    (A page already read is kept on the event loop while nothing is written: bodies.py.)"""
    rows = store.page_rows(
        conn,
        limit=q.limit,
        before=q.before,
        state=q.state.value if q.state else None,
        spoke=q.spoke,
        labels=q.labels,
    )
    cursor = str(rows[-1][0]) if len(rows) == q.limit else None
    return wirejson.page(cache.encode(rows, lambda seqs: store.specs(conn, seqs)), cursor)


def get_json(conn: Connection, workload_id: str, cache: WorkloadJson) -> bytes:
    """`get(conn, workload_id).model_dump_json()`, byte for byte (`wirejson`)."""
    row = store.row_by_id(conn, workload_id) if valid_id(workload_id) else None
    if row is None:
        raise NotFound(f"no workload {workload_id!r}")
    return cache.encode([row], lambda seqs: store.specs(conn, seqs))[0]


def spoke_views(conn: Connection) -> list[SpokeView]:
    alloc = store.allocations(conn)
    return [_view(row, alloc.get(row.name)) for row in spoke_store.all_spokes(conn)]


def _view(row: Any, alloc: tuple[int, int, int, int] | None) -> SpokeView:
    used = Amount(*alloc[:3]) if alloc else Amount()
    return SpokeView(
        name=row.name,
        labels=json.loads(row.labels),
        capacity=Amount(row.cpu_millis, row.memory_bytes, row.gpus),
        allocated=used,
        health=SpokeHealth(row.health),
        approved=bool(row.approved),
        draining=bool(row.draining),
    )


def explain(conn: Connection, workload_id: str, now: float) -> Explanation:
    rec = record(row_of(conn, workload_id))
    mode = {"mode": rec.spec.mode, "lease_seconds": rec.spec.lease}
    if rec.state is not WorkloadState.PENDING:
        length = store.queue_length(conn)
        return Explanation(
            workload=rec.id, state=rec.state, queue_length=length, summary=describe(rec), **mode
        )
    position, length = store.queue_spot(conn, rec.spec.priority, rec.seq)
    deadline_in = None if rec.deadline_at is None else rec.deadline_at - now
    explanation = explain_pending(
        rec.demand(), spoke_views(conn), QueueSpot(position, length), deadline_in=deadline_in
    )
    if rec.reason and rec.message:
        summary = f"{explanation.summary}; back in the queue because {rec.message}"
        explanation = explanation.model_copy(update={"summary": summary})
    return explanation.model_copy(update=mode)


def spokes(conn: Connection) -> SpokeList:
    alloc = store.allocations(conn)
    return SpokeList(
        items=[_spoke(row, alloc.get(row.name)) for row in spoke_store.all_spokes(conn)]
    )


def spoke(conn: Connection, name: str) -> Spoke:
    row = spoke_store.get(conn, name) if is_name(name) else None
    if row is None:
        raise NotFound(f"no spoke {name!r}")
    return _spoke(row, store.allocations(conn).get(name))


def _spoke(row: Any, alloc: tuple[int, int, int, int] | None) -> Spoke:
    cpu, memory, gpus, running = alloc or (0, 0, 0, 0)
    return Spoke(
        name=row.name,
        labels=json.loads(row.labels),
        capacity=Capacity(cpu_millis=row.cpu_millis, memory_bytes=row.memory_bytes, gpus=row.gpus),
        allocated=Capacity(cpu_millis=cpu, memory_bytes=memory, gpus=gpus),
        health=SpokeHealth(row.health),
        executor=row.executor,
        registered_at=utc(row.registered_at),
        last_heartbeat=utc(row.last_heartbeat),
        running=running,
        approved=bool(row.approved),
        draining=bool(row.draining),
    )


@dataclass(frozen=True, slots=True)
class TelemetryQuery:
    workload: str | None = None
    spoke: str | None = None
    since: float | None = None
    limit: int = 1000


def check_telemetry_query(q: TelemetryQuery) -> None:
    if q.workload is not None and not valid_id(q.workload):
        raise Invalid.at("query.workload", "is not a workload id")
    if q.spoke is not None and not is_name(q.spoke):
        raise Invalid.at("query.spoke", "is not a spoke name")


def telemetry(conn: Connection, q: TelemetryQuery) -> list[TelemetrySeries]:
    rows = telemetry_store.query(
        conn, workload=q.workload, spoke=q.spoke, since=q.since, limit=q.limit
    )
    series: dict[tuple[str | None, str], list[TelemetryPoint]] = {}
    for row in rows:
        point = TelemetryPoint(
            seq=row.seq,
            at=utc(row.at),
            workload=row.workload,
            generation=row.generation,
            metrics=json.loads(row.metrics),
        )
        series.setdefault((row.workload, row.spoke), []).append(point)
    return [
        TelemetrySeries(workload=workload, spoke=spoke, points=points)
        for (workload, spoke), points in series.items()
    ]
