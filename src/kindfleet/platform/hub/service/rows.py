"""Rows of the store as the lifecycle's records, and back.

The only place that knows both shapes: the store speaks columns, the pure core speaks
`WorkloadRecord`. Specs are stored as canonical JSON (sorted keys), which also makes the
idempotency check a comparison of two hashes.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection

from kindfleet.platform.hub.rules.placement import Amount
from kindfleet.platform.hub.rules.queue import PendingQueue, Queued
from kindfleet.platform.hub.rules.transitions import (
    REJECTED,
    AttemptRecord,
    WorkloadRecord,
)
from kindfleet.platform.store import after_commit
from kindfleet.platform.store import workloads as store
from kindfleet.platform.wire import Selector, WorkloadSpec, WorkloadState

# One encoder for every call: `json.dumps` with options builds a new one each time.
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode
_compact = json.JSONEncoder(separators=(",", ":")).encode


def canonical(spec: WorkloadSpec) -> str:
    return _canonical(spec.model_dump(mode="json"))


def selector_key(selector: Selector) -> str:
    return _canonical(selector.model_dump(mode="json"))


@lru_cache(maxsize=1024)
def parse_selector(text: str) -> Selector:
    return Selector.model_validate_json(text)


def queued(rec: WorkloadRecord, selector: str | None = None) -> Queued:
    """A Pending record as the in-memory queue keeps it (`selector`: its key, if known)."""
    return Queued(
        workload=rec.id,
        seq=rec.seq,
        priority=rec.spec.priority,
        request=rec.request,
        selector=rec.spec.selector,
        selector_key=selector_key(rec.spec.selector) if selector is None else selector,
        avoid=rec.demand().avoid,
    )


def queued_row(row: Any) -> Queued:
    """A Pending row (columns only, see `store.workloads.queued`) for the queue."""
    avoid = frozenset(a[1] for a in json.loads(row.attempts) if a[7] == REJECTED)
    return Queued(
        workload=row.id,
        seq=row.seq,
        priority=row.priority,
        request=Amount(row.cpu_millis, row.memory_bytes, row.gpus),
        selector=parse_selector(row.selector),
        selector_key=row.selector,
        avoid=avoid,
    )


def persist(
    conn: Connection, queue: PendingQueue, records: list[WorkloadRecord], *, freed: bool = False
) -> None:
    """Save changed records; once committed, the queue follows (and learns of freed room)."""
    if not records:
        return
    store.save(conn, [changes(rec) for rec in records])

    def follow() -> None:
        for rec in records:
            if rec.state is WorkloadState.PENDING:
                queue.add(queued(rec))
            else:
                queue.discard(rec.id)
        if freed:
            queue.fleet_changed()

    after_commit(conn, follow)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@lru_cache(maxsize=4096)
def parse_spec(text: str) -> WorkloadSpec:
    return WorkloadSpec.model_validate_json(text)


def record(row: Any) -> WorkloadRecord:
    return WorkloadRecord(
        id=row.id,
        spec=parse_spec(row.spec),
        state=WorkloadState(row.state),
        submitted_at=row.submitted_at,
        updated_at=row.updated_at,
        seq=row.seq,
        generation=row.generation,
        spoke=row.spoke,
        retries_used=row.retries_used,
        cancel_requested=bool(row.cancel_requested),
        accepted=bool(row.accepted),
        delivered_at=row.delivered_at,
        cancel_delivered_at=row.cancel_delivered_at,
        reason=row.reason,
        message=row.message,
        deadline_at=row.deadline_at,
        attempts=tuple(_attempt(a) for a in json.loads(row.attempts)),
    )


def _attempt(data: list[Any]) -> AttemptRecord:
    gen, spoke, state, assigned, started, finished, code, reason = data
    return AttemptRecord(
        gen, spoke, WorkloadState(state), assigned, started, finished, code, reason
    )


def attempts_json(rec: WorkloadRecord) -> str:
    if not rec.attempts:
        return "[]"
    return _compact(
        [
            [
                a.generation,
                a.spoke,
                a.state.value,
                a.assigned_at,
                a.started_at,
                a.finished_at,
                a.exit_code,
                a.reason,
            ]
            for a in rec.attempts
        ]
    )


def changes(rec: WorkloadRecord) -> dict[str, Any]:
    """The mutable columns of a record, keyed for `store.workloads.save`."""
    return {
        "seq": rec.seq,
        "state": rec.state.value,
        "generation": rec.generation,
        "spoke": rec.spoke,
        "retries_used": rec.retries_used,
        "cancel_requested": rec.cancel_requested,
        "accepted": rec.accepted,
        "delivered_at": rec.delivered_at,
        "cancel_delivered_at": rec.cancel_delivered_at,
        "reason": rec.reason,
        "message": rec.message,
        "attempts": attempts_json(rec),
        "updated_at": rec.updated_at,
        "deadline_at": rec.deadline_at,
    }


def shown_columns(rec: WorkloadRecord) -> tuple[Any, ...]:
    """A record as the `SHOWN` columns of its row (what `wirejson.render` writes)."""
    return (
        rec.seq, rec.id, "", rec.state.value, rec.generation, rec.spoke, rec.retries_used,
        rec.cancel_requested, rec.reason, rec.message, attempts_json(rec), rec.submitted_at,
        rec.updated_at,
    )  # fmt: skip


def new_row(
    rec: WorkloadRecord, *, idem_hash: str, spec_json: str, spec_hash: str, selector: str
) -> dict[str, Any]:
    """A new workload's row; `selector` is `selector_key(rec.spec.selector)`."""
    row = changes(rec)
    del row["seq"]  # given by the store
    request = rec.request
    row.update(
        id=rec.id,
        idem_hash=idem_hash,
        spec_hash=spec_hash,
        spec=spec_json,
        priority=rec.spec.priority,
        cpu_millis=request.cpu_millis,
        memory_bytes=request.memory_bytes,
        gpus=request.gpus,
        submitted_at=rec.submitted_at,
        selector=selector,
    )
    return row
