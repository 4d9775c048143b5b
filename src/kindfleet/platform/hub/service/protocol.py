"""Jobs behind the spoke API: register, heartbeat, assignment delivery, event ingestion.

Fencing lives here: every report is checked against the workload's current generation
and owner before it is applied, every held copy against the same, and a batch of
reports is applied in one transaction together with the spoke's new high-water mark,
so a redelivered batch is recognised by its sequence numbers and applied once.
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

from sqlalchemy import Connection

from kindfleet.platform.hub.rules import delivery, joining, transitions
from kindfleet.platform.hub.rules.queue import PendingQueue
from kindfleet.platform.hub.rules.times import epoch
from kindfleet.platform.hub.rules.transitions import WorkloadRecord
from kindfleet.platform.hub.service import tokens
from kindfleet.platform.hub.service.refusals import (
    Conflict,
    Forbidden,
    Gone,
    HubError,
    Unauthorized,
)
from kindfleet.platform.hub.service.rows import changes, persist, record
from kindfleet.platform.hub.service.submit import valid_id
from kindfleet.platform.hub.service.tokens import Principal
from kindfleet.platform.store import after_commit
from kindfleet.platform.store import joins as join_store
from kindfleet.platform.store import spokes as spoke_store
from kindfleet.platform.store import telemetry as telemetry_store
from kindfleet.platform.store import workloads as store
from kindfleet.platform.wire import (
    Assignment,
    EventAck,
    EventBatch,
    HeldAssignment,
    RegisterRequest,
    SpokeHealth,
    StatusEvent,
    TelemetryPoint,
)


def clean(text: str | None) -> str | None:
    """Text a spoke sent, fit for a column of either database (no NUL)."""
    return None if text is None else text.replace("\x00", "")


@dataclass(frozen=True, slots=True)
class Joined:
    known: bool  # the name was registered before
    rotation: bool  # the spoke's own credential: nothing about it is reset
    approved: bool
    retired: str | None = None  # the digest of the credential a new agent replaced


def register(
    conn: Connection,
    req: RegisterRequest,
    who: Principal,
    credential_hash: str,
    *,
    now: float,
    lease_seconds: float,
    queue: PendingQueue,
) -> Joined:
    """Check the proof against the join rules; create or replace the spoke; spend the token.

    Rotation (the spoke's own credential) keeps what the spoke is (its event high-water
    mark, approval, drain); a new agent under a known name (join or fleet token, the lease
    run out) starts afresh: its outbox counts from 1 again."""
    row = spoke_store.get(conn, req.name)
    if who.kind == "spoke":  # a rotation: its credential may have been taken back meanwhile
        _held_by(conn, req.name, row, who.digest)
    known = joining.Known(row.last_heartbeat, bool(row.approved)) if row is not None else None
    bound = _join_token(conn, who, now) if who.kind == "join" else None
    own = (
        row is not None
        and req.credential is not None
        and hmac.compare_digest(str(row.credential_hash), credential_hash)
    )
    try:
        verdict = joining.decide(
            who.proof(bound), req.name, known, now, lease_seconds, own_credential=own
        )
    except joining.JoinRefused as exc:
        raise _refusal(exc) from None
    taken = [] if verdict.rotation or row is None else _taken_over(conn, req.name, now)
    if who.kind == "join" and not join_store.spend(conn, str(who.token_id), now):
        raise Unauthorized("this join token was already used (they are single use)")
    persist(conn, queue, taken, freed=True)
    values: dict[str, Any] = {
        "name": req.name,
        "labels": json.dumps(dict(req.labels), sort_keys=True),
        "cpu_millis": req.capacity.cpu_millis,
        "memory_bytes": req.capacity.memory_bytes,
        "gpus": req.capacity.gpus,
        "executor": req.executor,
        "agent_version": clean(req.agent_version) or "",
        "credential_hash": credential_hash,
        "last_heartbeat": now,
        "health": SpokeHealth.READY.value,
        "approved": verdict.approved,
    }
    if not verdict.rotation:
        # A new agent may come with a fresh outbox that counts from 1 again.
        values.update(registered_at=now, last_seq=0, established=False)
        values["draining"] = bool(row.draining) if row is not None else False
    spoke_store.upsert(conn, values)
    spoke_store.unretire(conn, credential_hash)
    retired = None
    if row is not None and not verdict.rotation and row.credential_hash != credential_hash:
        # The agent before may still be out there (partitioned): told so, it stops the
        # work that just moved (`_taken_over`), rather than running it beside its new copy.
        retired = str(row.credential_hash)
        spoke_store.retire(conn, retired, req.name, "replaced", now)
    after_commit(conn, queue.fleet_changed)
    return Joined(
        known=row is not None,
        rotation=verdict.rotation,
        approved=verdict.approved,
        retired=retired,
    )


def _taken_over(conn: Connection, name: str, now: float) -> list[WorkloadRecord]:
    """A new agent takes a known name: the work handed to the one before can no longer be
    reported by anyone (its credential is replaced), and the new agent's heartbeats keep
    the name from ever going Lost, so that work would stay Running for ever. It moves now
    as a lost spoke's does (`SpokeReplaced`). Exclusive work cannot: the agent before may
    run it until its lease has passed in silence, so the join is refused (409) until the
    hub has moved it by the rules of silence."""
    active = [record(row) for row in store.active_on(conn, name)]
    held = [rec.id for rec in active if rec.spec.lease is not None]
    if held:
        raise Conflict(
            f"spoke {name}'s previous agent was handed exclusive work it may still be running "
            f"({', '.join(held[:3])}{', ...' if len(held) > 3 else ''}): the hub moves it once "
            f"{name} is Lost and the work's lease has passed in silence; join again then, or "
            f"remove the spoke with --force if that agent is known to be stopped"
        )
    return [transitions.spoke_lost(rec, now, why=transitions.SPOKE_REPLACED) for rec in active]


def _join_token(conn: Connection, who: Principal, now: float) -> str:
    """The name a presented join token is bound to; refuses unknown, used, expired ones."""
    token = join_store.get(conn, str(who.token_id))
    if token is None or not hmac.compare_digest(token.secret_hash, str(who.digest)):
        raise Unauthorized("the bearer token is not valid for this hub")
    try:
        joining.check_token(token.spoke, token.expires_at, token.used_at, now)
    except joining.JoinRefused as exc:
        raise _refusal(exc) from None
    return str(token.spoke)


def _refusal(exc: joining.JoinRefused) -> HubError:
    kind = {401: Unauthorized, 403: Forbidden, 409: Conflict}.get(exc.status, HubError)
    return kind(exc.message)


@dataclass(frozen=True, slots=True)
class Beat:
    previous: SpokeHealth
    stop: list[HeldAssignment]
    capacity_changed: bool
    redelivered: int = 0  # acknowledged assignments the spoke no longer holds, due again


def heartbeat(
    conn: Connection,
    name: str,
    capacity: tuple[int, int, int],
    held: Sequence[HeldAssignment],
    *,
    now: float,
    queue: PendingQueue,
    credential: str | None = None,
) -> Beat:
    row = _registered(conn, name, credential)
    cpu, memory, gpus = capacity
    changed = (row.cpu_millis, row.memory_bytes, row.gpus) != capacity
    spoke_store.change(
        conn,
        name,
        last_heartbeat=now,
        health=SpokeHealth.READY.value,
        cpu_millis=cpu,
        memory_bytes=memory,
        gpus=gpus,
        established=True,
    )
    if changed or SpokeHealth(row.health) is not SpokeHealth.READY:
        after_commit(conn, queue.fleet_changed)
    stale = stale_copies(conn, name, held)
    return Beat(SpokeHealth(row.health), stale, changed, redeliver(conn, name, held))


def redeliver(conn: Connection, name: str, held: Sequence[HeldAssignment]) -> int:
    """Acknowledged assignments the spoke's heartbeat does not list: due again. How many."""
    listed = {(h.workload, h.generation) for h in held}
    missing = [wid for wid, gen in store.acknowledged_on(conn, name) if (wid, gen) not in listed]
    if not missing:
        return 0
    again = delivery.forgotten(map(record, store.by_ids(conn, missing)), name, listed)
    store.save(conn, [changes(rec) for rec in again])
    return len(again)


def stale_copies(
    conn: Connection, name: str, held: Sequence[HeldAssignment]
) -> list[HeldAssignment]:
    """Held copies that are not their workload's live assignment to this spoke.

    A live copy the spoke holds also acknowledges its delivery (as `accepted` would), so
    it is not sent again even if the spoke's own acknowledgement is still on its way.
    """
    ids = [h.workload for h in held if valid_id(h.workload)]
    current = {row.id: record(row) for row in store.by_ids(conn, ids)}
    stale, acked = [], []
    for h in held:
        rec = current.get(h.workload)
        if rec is None or transitions.is_stale(rec, name, h.generation):
            stale.append(h)
        elif not rec.accepted:
            acked.append(changes(replace(rec, accepted=True)))
    store.save(conn, acked)
    return stale


@dataclass(frozen=True, slots=True)
class Due:
    items: list[Assignment]
    next_due: float | None  # when an unacknowledged item goes out again


def take_due(
    conn: Connection,
    name: str,
    now: float,
    redeliver_seconds: float,
    credential: str | None = None,
) -> Due:
    """Assignments and cancellations for this spoke that are due to go out now: none to
    a spoke awaiting approval (it is never placed on, nor handed what its name held), and
    none to a poll whose credential is no longer the spoke's (`_held_by`)."""
    rows = store.deliverable_on(conn, name)
    if not rows:  # the common poll: nothing due, and nothing more to read
        return Due([], None)
    spoke = spoke_store.get(conn, name)
    if spoke is None or not spoke.approved:
        return Due([], None)
    _held_by(conn, name, spoke, credential)
    items: list[Assignment] = []
    sent: list[WorkloadRecord] = []
    next_times: list[float] = []
    for found in (record(row) for row in rows):
        rec = found
        deliver = delivery.delivery_due(rec, now, redeliver_seconds)
        cancel = delivery.cancel_due(rec, now, redeliver_seconds)
        if deliver or cancel:
            items.append(
                Assignment(
                    workload=rec.id,
                    generation=rec.generation,
                    spec=rec.spec,
                    cancel=rec.cancel_requested,
                )
            )
            rec = replace(
                rec,
                delivered_at=now if deliver else rec.delivered_at,
                cancel_delivered_at=now if cancel else rec.cancel_delivered_at,
            )
            sent.append(rec)
        due = delivery.next_due(rec, redeliver_seconds)
        if due is not None:
            next_times.append(due)
    store.save(conn, [changes(r) for r in sent])
    return Due(items, min(next_times) if next_times else None)


@dataclass
class Ingested:
    ack: EventAck
    notes: list[tuple[str, str]] = field(default_factory=list)  # (workload, what happened)
    freed: bool = False  # some capacity came free or work went back to the queue


def _registered(conn: Connection, name: str, credential: str | None = None) -> Any:
    """The spoke's row, held by `credential` (the digest the request came with) if given."""
    return _held_by(conn, name, spoke_store.get(conn, name), credential)


def _held_by(conn: Connection, name: str, row: Any, credential: str | None) -> Any:
    """`row` (the spoke's, read in this transaction), if `credential` is still its own.

    A request is authenticated before its turn on the writer; meanwhile the spoke may have
    been removed, or its credential replaced by a new agent's registration. Found from
    outside: a report sent with a credential taken back meanwhile ended the work of the new
    agent under the name, a long poll held across a removal was handed the next agent's
    work, and a rotation locked the new agent out. Such a request is answered as one with
    that credential now would be (410, taken back; 401 otherwise), not as a failure of the
    hub."""
    if row is None:
        _refuse(conn, name, credential, f"spoke {name} was removed and its credential revoked")
    if credential is not None and not hmac.compare_digest(str(row.credential_hash), credential):
        _refuse(conn, name, credential, f"this credential is not (or no longer) spoke {name}'s")
    return row


def _refuse(conn: Connection, name: str, credential: str | None, otherwise: str) -> NoReturn:
    """410 for a credential the hub took back (its agent must stop its runs: 401 alone never
    stops them), else 401 saying `otherwise`."""
    why = spoke_store.retired_why(conn, credential) if credential is not None else None
    if why is not None:
        raise Gone(tokens.retired_message(name, why))
    raise Unauthorized(otherwise)


def ingest(
    conn: Connection,
    name: str,
    batch: EventBatch,
    now: float,
    queue: PendingQueue,
    *,
    credential: str | None = None,
) -> Ingested:
    """Apply a batch of reports once, in sequence order, with the new high-water mark."""
    row = _registered(conn, name, credential)
    last = int(row.last_seq)
    reports: list[StatusEvent | TelemetryPoint] = sorted(
        [*batch.events, *batch.telemetry], key=lambda r: r.seq
    )
    fresh: list[StatusEvent | TelemetryPoint] = []
    mark = last
    for report in reports:
        if report.seq > mark:
            fresh.append(report)
            mark = report.seq
    ids = [r.workload for r in fresh if r.workload is not None and valid_id(r.workload)]
    records = {row.id: record(row) for row in store.by_ids(conn, ids)}
    done = Ingested(EventAck(acked_through=mark, duplicates=len(reports) - len(fresh)))
    changed: dict[str, WorkloadRecord] = {}
    points: list[dict[str, Any]] = []
    for report in fresh:
        if isinstance(report, StatusEvent):
            _apply(report, name, records, changed, done, now=now)
        elif _owned(records.get(report.workload or ""), name, report):
            points.append(_point_row(name, report, now))
        else:
            done.ack.refused.append(report.seq)
    persist(conn, queue, list(changed.values()), freed=done.freed)
    telemetry_store.insert(conn, points)
    if mark != last:
        spoke_store.change(conn, name, last_seq=mark)
    return done


def _apply(
    event: StatusEvent,
    spoke: str,
    records: dict[str, WorkloadRecord],
    changed: dict[str, WorkloadRecord],
    done: Ingested,
    *,
    now: float,
) -> None:
    event = event.model_copy(
        update={"reason": clean(event.reason), "message": clean(event.message)}
    )
    outcome = transitions.apply_event(records.get(event.workload), spoke, event, now)
    if outcome.record is None:
        done.ack.refused.append(event.seq)
        return
    before = records[event.workload]
    records[event.workload] = changed[event.workload] = outcome.record
    if outcome.note:
        done.notes.append((event.workload, outcome.note))
    if before.state in transitions.ACTIVE and outcome.record.state not in transitions.ACTIVE:
        done.freed = True


def _owned(rec: WorkloadRecord | None, spoke: str, point: TelemetryPoint) -> bool:
    """Telemetry is kept for the spoke itself, or for work one of its attempts ran."""
    if point.workload is None:
        return point.generation is None
    if rec is None:
        return False
    return any(
        a.spoke == spoke and (point.generation is None or a.generation == point.generation)
        for a in rec.attempts
    )


def _point_row(spoke: str, point: TelemetryPoint, now: float) -> dict[str, Any]:
    metrics = {clean(k) or "": v for k, v in point.metrics.items() if math.isfinite(v)}
    return {
        "spoke": spoke,
        "workload": point.workload,
        "generation": point.generation,
        "seq": point.seq,
        "at": epoch(point.at, default=now),
        "metrics": json.dumps(metrics, separators=(",", ":")),
    }
