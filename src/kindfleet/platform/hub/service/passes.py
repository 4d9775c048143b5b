"""One scheduler pass, in one transaction: spoke health, lost work, deadlines, placement.

Order matters and is fixed: health first (a spoke that just went NotReady gets nothing
new), then the work of spokes that just became Lost goes back to the queue, then expired
work leaves it, then placement fills Ready spokes from what is left, so re-routed work
is placed in the very pass that declared its spoke Lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import Connection

from kindfleet.platform.hub.rules import leases, placement, transitions
from kindfleet.platform.hub.rules.transitions import WorkloadRecord
from kindfleet.platform.hub.service.reads import spoke_views
from kindfleet.platform.hub.service.rows import changes, record
from kindfleet.platform.store import spokes as spoke_store
from kindfleet.platform.store import telemetry as telemetry_store
from kindfleet.platform.store import workloads as store
from kindfleet.platform.wire import SpokeHealth

PAGE = 1000
MAX_PAGES = 20  # at most this much of the queue is looked at per pass


@dataclass(frozen=True, slots=True)
class PassConfig:
    rules: leases.LeaseRules
    policy: placement.Policy
    hub_started_at: float
    place: bool = True
    count: bool = False  # also count workloads by state (for the metrics)
    prune_before: float | None = None  # drop telemetry older than this


@dataclass
class PassReport:
    health: dict[str, SpokeHealth] = field(default_factory=dict)  # changes only
    guarded: bool = False
    lost: dict[str, list[WorkloadRecord]] = field(default_factory=dict)  # after the move
    expired: list[WorkloadRecord] = field(default_factory=list)
    placed: list[WorkloadRecord] = field(default_factory=list)
    counts: dict[str, int] | None = None
    spokes: dict[str, SpokeHealth] = field(default_factory=dict)  # every spoke, now


def run_pass(conn: Connection, now: float, cfg: PassConfig) -> PassReport:
    report = PassReport()
    _sweep(conn, now, cfg, report)
    for name, health_now in report.health.items():
        if health_now is SpokeHealth.LOST:
            report.lost[name] = _move_lost_work(conn, name, now)
    report.expired = _expire(conn, now)
    if cfg.place or report.lost or any(h is SpokeHealth.READY for h in report.health.values()):
        report.placed = _place(conn, now, cfg.policy)
    if cfg.count:
        report.counts = store.count_by_state(conn)
    if cfg.prune_before is not None:
        telemetry_store.prune(conn, cfg.prune_before)
    return report


def _sweep(conn: Connection, now: float, cfg: PassConfig, report: PassReport) -> None:
    rows = spoke_store.all_spokes(conn)
    seen = [
        leases.SpokeLease(row.name, row.last_heartbeat, SpokeHealth(row.health)) for row in rows
    ]
    result = leases.sweep(seen, now, cfg.hub_started_at, cfg.rules)
    spoke_store.set_health(conn, {name: h.value for name, h in result.changes.items()})
    report.health = result.changes
    report.guarded = result.guarded
    report.spokes = {lease.name: result.changes.get(lease.name, lease.health) for lease in seen}


def _move_lost_work(conn: Connection, spoke: str, now: float) -> list[WorkloadRecord]:
    moved = [transitions.spoke_lost(record(row), now) for row in store.active_on(conn, spoke)]
    store.save(conn, [changes(rec) for rec in moved])
    return moved


def _expire(conn: Connection, now: float) -> list[WorkloadRecord]:
    expired = [transitions.expire(record(row), now) for row in store.overdue(conn, now)]
    store.save(conn, [changes(rec) for rec in expired])
    return expired


def _place(conn: Connection, now: float, policy: placement.Policy) -> list[WorkloadRecord]:
    views = spoke_views(conn)
    placed: list[WorkloadRecord] = []
    after: tuple[int, int] | None = None
    for _ in range(MAX_PAGES):
        bound = _room(views)
        if bound is None:
            break
        rows = store.pending(conn, limit=PAGE, after=after, at_most=bound)
        if not rows:
            break
        records = {row.id: record(row) for row in rows}
        decisions = placement.place([r.demand() for r in records.values()], views, policy)
        taken: dict[str, placement.Amount] = {}
        for decision in decisions:
            rec = transitions.assign(records[decision.workload], decision.spoke, now)
            placed.append(rec)
            taken[decision.spoke] = taken.get(decision.spoke, placement.Amount()) + rec.request
        views = [
            replace(v, allocated=v.allocated + taken[v.name]) if v.name in taken else v
            for v in views
        ]
        if len(rows) < PAGE:
            break
        after = (rows[-1].priority, rows[-1].seq)
    store.save(conn, [changes(rec) for rec in placed])
    return placed


def _room(views: list[placement.SpokeView]) -> tuple[int, int, int] | None:
    """The most any Ready spoke has free per dimension; None when nothing can fit anywhere."""
    free = [v.free for v in views if v.health is SpokeHealth.READY]
    free = [f for f in free if f.cpu_millis > 0 and f.memory_bytes > 0]
    if not free:
        return None
    return (
        max(f.cpu_millis for f in free),
        max(f.memory_bytes for f in free),
        max(f.gpus for f in free),
    )
