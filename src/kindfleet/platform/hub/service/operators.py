"""Jobs behind the operator API: join tokens, approval, drain, removal.

Each runs in one transaction of the store's writer; the service acts on the outside world
(the in-memory token table, the log, woken spokes) only after it commits.
"""

from __future__ import annotations

from sqlalchemy import Connection

from kindfleet.platform.hub.rules import joining, transitions
from kindfleet.platform.hub.rules.queue import PendingQueue
from kindfleet.platform.hub.rules.transitions import WorkloadRecord
from kindfleet.platform.hub.service.refusals import Conflict, NotFound
from kindfleet.platform.hub.service.rows import persist, record
from kindfleet.platform.store import after_commit
from kindfleet.platform.store import joins as join_store
from kindfleet.platform.store import spokes as spoke_store
from kindfleet.platform.store import workloads as store
from kindfleet.platform.wire import SpokeRemoval, WorkloadState


def mint(
    conn: Connection, ident: str, digest: str, *, spoke: str, now: float, expires: float
) -> None:
    join_store.insert(
        conn,
        {
            "id": ident,
            "secret_hash": digest,
            "spoke": spoke,
            "created_at": now,
            "expires_at": expires,
            "used_at": None,
        },
    )


def _require(conn: Connection, name: str) -> None:
    if spoke_store.get(conn, name) is None:
        raise NotFound(f"no spoke {name!r}")


def approve(conn: Connection, name: str, queue: PendingQueue) -> None:
    _require(conn, name)
    spoke_store.change(conn, name, approved=True)
    after_commit(conn, queue.fleet_changed)


def drain(conn: Connection, name: str, draining: bool, queue: PendingQueue) -> None:
    _require(conn, name)
    spoke_store.change(conn, name, draining=draining)
    if not draining:
        after_commit(conn, queue.fleet_changed)


def remove(
    conn: Connection,
    name: str,
    now: float,
    lease_seconds: float,
    queue: PendingQueue,
    *,
    force: bool,
) -> SpokeRemoval:
    """Forget the spoke (its credential and unused join tokens with it) and move its work:
    unstarted work back to the queue, running work retried per its policy. Its credential
    is remembered as retired: its agent, if it is still out there, is told to stop.

    Without `force`, a spoke that may be running work it was handed (Running, or Assigned
    and sent to it: its agent starts what it accepts before the hub hears `started`) is
    refused (409), live or silent: its agent would go on running that work while the hub
    placed it elsewhere. A silent spoke's work is the hub's to move, by the rules of
    silence (Lost, and an exclusive workload's whole lease), not at an operator's call
    that only says the spoke is gone: drain it, stop its agent, or wait; `force` when it
    is known to be stopped."""
    row = spoke_store.get(conn, name)
    if row is None:
        raise NotFound(f"no spoke {name!r}")
    active = [record(r) for r in store.active_on(conn, name)]
    handed = [r for r in active if _handed_out(r)]
    if handed and not force:
        known = joining.Known(row.last_heartbeat, bool(row.approved))
        raise Conflict(_may_run(name, handed, live=joining.live(known, now, lease_seconds)))
    moved = [transitions.spoke_lost(rec, now, why=transitions.SPOKE_REMOVED) for rec in active]
    persist(conn, queue, moved, freed=True)
    join_store.revoke(conn, name)
    spoke_store.remove(conn, name)
    spoke_store.retire(conn, str(row.credential_hash), name, "removed", now)
    return _removal(name, moved)


def _handed_out(rec: WorkloadRecord) -> bool:
    """Whether the spoke may be running it: started, or sent to it (or acknowledged)."""
    return rec.state is WorkloadState.RUNNING or rec.accepted or rec.delivered_at is not None


def _may_run(name: str, handed: list[WorkloadRecord], *, live: bool) -> str:
    count = f"{len(handed)} workload(s) it was handed"
    if live:
        return (
            f"spoke {name} is live and may be running {count}: removing it now would run "
            f"them twice. Drain it (kindfleet spokes drain {name}) and remove it once its "
            "work is done, stop its agent first, or remove it with --force"
        )
    exclusive = sum(1 for r in handed if r.spec.lease is not None)
    held = f" ({exclusive} exclusive: each once its lease has passed in silence)"
    return (
        f"spoke {name} is silent and may still be running {count} (a partition looks the "
        "same as a stopped agent): the hub moves them itself once the spoke is Lost"
        + (held if exclusive else "")
        + ". Remove it then, or with --force if you know its agent is stopped"
    )


def _removal(name: str, moved: list[WorkloadRecord]) -> SpokeRemoval:
    out = SpokeRemoval(spoke=name)
    for rec in moved:
        if rec.state is WorkloadState.PENDING:
            bucket = out.retried if rec.reason == transitions.RETRYING else out.requeued
        elif rec.state is WorkloadState.CANCELLED:
            bucket = out.cancelled
        else:
            bucket = out.failed
        bucket.append(rec.id)
    return out
