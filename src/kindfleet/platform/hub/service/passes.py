"""One scheduler pass, in one transaction: spoke health, lost work, deadlines, placement.

Order matters and is fixed: health first (a spoke that just went NotReady gets nothing
new), then the work of spokes that just became Lost goes back to the queue, then expired
work leaves it, then placement fills Ready spokes from what is left, so re-routed work
is placed in the very pass that declared its spoke Lost.

Placement asks the in-memory queue (`rules.queue`) instead of reading the queue from the
store: a pass costs the work it places and the shapes that may fit, not the queue's length.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row

from kindfleet.platform import exclusive
from kindfleet.platform.hub.rules import leases, placement, transitions
from kindfleet.platform.hub.rules.hearing import Hearing
from kindfleet.platform.hub.rules.queue import PendingQueue
from kindfleet.platform.hub.rules.transitions import WorkloadRecord
from kindfleet.platform.hub.service.reads import spoke_views
from kindfleet.platform.hub.service.rows import persist, queued, record
from kindfleet.platform.store import after_commit
from kindfleet.platform.store import joins as join_store
from kindfleet.platform.store import spokes as spoke_store
from kindfleet.platform.store import telemetry as telemetry_store
from kindfleet.platform.store import workloads as store
from kindfleet.platform.wire import SpokeHealth, WorkloadState


@dataclass(frozen=True, slots=True)
class PassConfig:
    rules: leases.LeaseRules
    policy: placement.Policy
    hearing: Hearing  # what the hub could hear, as of the pass (monotonic)
    heard: Mapping[str, float]  # when this hub last heard each spoke (monotonic)
    holding: frozenset[str] = frozenset()  # Lost spokes whose exclusive work waits its lease
    place: bool = True
    prune_before: float | None = None  # drop telemetry (and old join tokens) older than this
    full: bool = False  # look at every queued shape again, not only those that may fit


@dataclass
class PassReport:
    health: dict[str, SpokeHealth] = field(default_factory=dict)  # changes only
    guard: leases.Guard = field(default_factory=leases.Guard)
    lost: dict[str, list[WorkloadRecord]] = field(default_factory=dict)  # after the move
    expired: list[WorkloadRecord] = field(default_factory=list)
    placed: list[WorkloadRecord] = field(default_factory=list)
    counts: dict[str, int] | None = None
    spokes: dict[str, SpokeHealth] = field(default_factory=dict)  # every spoke, now
    silence: dict[str, float] = field(default_factory=dict)  # audible seconds, every spoke
    holding: set[str] = field(default_factory=set)  # Lost, exclusive work not yet moved
    longest_hold: float = 0.0  # the longest lease of that work: how far back to hear
    shapes_tried: int = 0

    @property
    def guarded(self) -> bool:
        return self.guard.active


def run_pass(conn: Connection, now: float, cfg: PassConfig, queue: PendingQueue) -> PassReport:
    report = PassReport()
    _sweep(conn, now, cfg, report)
    newly = [name for name, health in report.health.items() if health is SpokeHealth.LOST]
    again = [n for n in cfg.holding if n not in report.health]
    for name in [*newly, *again]:
        if report.spokes.get(name) is not SpokeHealth.LOST:
            continue  # back (a heartbeat): what it holds is its own again
        moved = _move_lost_work(conn, name, now, queue, report)
        if moved or name in newly:
            report.lost[name] = moved
    report.expired = _expire(conn, now, queue)
    if any(h is SpokeHealth.READY for h in report.health.values()):
        queue.fleet_changed()  # before the plan: a spoke back may take what fit nowhere
    if cfg.full:
        queue.fleet_changed()
    if cfg.place or report.lost or any(h is SpokeHealth.READY for h in report.health.values()):
        report.placed = _place(conn, now, cfg.policy, queue, report)
    if cfg.prune_before is not None:
        telemetry_store.prune(conn, cfg.prune_before)
        join_store.prune(conn, cfg.prune_before)
    return report


def _sweep(conn: Connection, now: float, cfg: PassConfig, report: PassReport) -> None:
    seen = [spoke_lease(row, now, cfg) for row in spoke_store.all_spokes(conn)]
    result = leases.sweep(seen, now, cfg.rules)
    spoke_store.set_health(conn, {name: h.value for name, h in result.changes.items()})
    report.health = result.changes
    report.guard = result.guard
    report.spokes = {lease.name: result.changes.get(lease.name, lease.health) for lease in seen}
    report.silence = {lease.name: lease.silence for lease in seen}


def spoke_lease(row: Row[Any], now: float, cfg: PassConfig) -> leases.SpokeLease:
    """A spoke's lease as the rules see it: its silence in audible seconds since this hub
    last heard it (or since this hub began to serve), its age by the clock."""
    heard = cfg.heard.get(row.name)
    hearing = cfg.hearing
    age = hearing.now - heard if heard is not None else now - row.last_heartbeat
    return leases.SpokeLease(
        row.name,
        age=age,
        silence=hearing.audible(heard),
        health=SpokeHealth(row.health),
        established=bool(row.established),
        approved=bool(row.approved),
    )


def _move_lost_work(
    conn: Connection, spoke: str, now: float, queue: PendingQueue, report: PassReport
) -> list[WorkloadRecord]:
    """Move a Lost spoke's work, except exclusive work whose lease has not yet run out
    in silence the hub could hear: its spoke may still be running it (it stops it by
    itself first), so it waits, and a later pass looks again (`holding`)."""
    silence = report.silence.get(spoke, 0.0)
    moved, waiting = [], False
    for row in store.active_on(conn, spoke):
        rec = record(row)
        lease = rec.spec.lease
        if lease is not None and not exclusive.may_replace(silence, lease):
            waiting = True
            report.longest_hold = max(report.longest_hold, lease)
            continue
        moved.append(transitions.spoke_lost(rec, now))
    if waiting:
        report.holding.add(spoke)
    persist(conn, queue, moved, freed=True)
    for rec in moved:  # placed again in this very pass (a rollback leaves a stale entry,
        if rec.state is WorkloadState.PENDING:  # which `_place` recognises and drops)
            queue.add(queued(rec))
    queue.fleet_changed()
    return moved


def _expire(conn: Connection, now: float, queue: PendingQueue) -> list[WorkloadRecord]:
    expired = [transitions.expire(record(row), now) for row in store.overdue(conn, now)]
    persist(conn, queue, expired)
    return expired


def _place(
    conn: Connection,
    now: float,
    policy: placement.Policy,
    queue: PendingQueue,
    report: PassReport,
) -> list[WorkloadRecord]:
    """Ask the queue for a plan (it costs what changed), then lease out what it placed.

    The queue follows the store after each commit, so a plan can only name work that
    is no longer Pending if a commit is still on its way; such work is left alone."""
    plan = queue.plan(spoke_views(conn), policy)
    report.shapes_tried = plan.shapes_tried
    chosen = {p.workload: p.spoke for p in plan.placements}
    placed = []
    for row in store.by_ids(conn, list(chosen)):
        rec = record(row)
        if rec.state is WorkloadState.PENDING:
            placed.append(transitions.assign(rec, chosen[rec.id], now))
    stale = set(chosen) - {rec.id for rec in placed}
    persist(conn, queue, placed)

    def follow() -> None:
        queue.mark_unfit(plan.unfit, plan.version)
        for workload in stale:
            queue.discard(workload)

    after_commit(conn, follow)
    return placed
