"""What a scheduler pass means to the outside: log lines, metrics, woken spokes.

Kept apart from the pass itself (one transaction, no side effects) so that nothing is
announced before it is committed: the service calls `announce` after the commit.
"""

from __future__ import annotations

import logging

from kindfleet.platform.hub.rules import transitions
from kindfleet.platform.hub.rules.transitions import WorkloadRecord
from kindfleet.platform.hub.service.longpoll import Notifier
from kindfleet.platform.hub.service.metrics import HubMetrics
from kindfleet.platform.hub.service.passes import PassReport
from kindfleet.platform.wire import SpokeHealth, WorkloadState

log = logging.getLogger("kindfleet.hub")


def announce(
    report: PassReport,
    metrics: HubMetrics,
    notifier: Notifier,
    *,
    was_guarded: bool,
    queued: int = 0,
) -> bool:
    """Log and count what the pass did, wake the spokes that got work; returns the guard."""
    for name, health in report.health.items():
        log.info("spoke %s is %s", name, health.value)
    for name, moved in report.lost.items():
        _lost(name, moved, metrics)
    guard = report.guard
    metrics.guard.set(1 if guard.active else 0)
    metrics.guard_silent.set(len(guard.silent) if guard.active else 0)
    metrics.guard_population.set(guard.population)
    metrics.guard_held.set(len(guard.held))
    metrics.queued.set(queued)
    if guard.active != was_guarded:
        if guard.active:
            log.warning("disruption guard on: %s", guard.reason)
        else:
            log.info("disruption guard off")
    for rec in report.expired:
        log.info("workload %s expired in the queue (%s)", rec.id, rec.message)
    metrics.expired.inc(len(report.expired))
    _placements(report, metrics, notifier)
    _gauges(report, metrics)
    return report.guarded


def _placements(report: PassReport, metrics: HubMetrics, notifier: Notifier) -> None:
    woken: set[str] = set()
    for rec in report.placed:
        log.info(
            "workload %s placed on spoke %s (generation %d)", rec.id, rec.spoke, rec.generation
        )
        if rec.spoke is not None:
            woken.add(rec.spoke)
    metrics.placements.inc(len(report.placed))
    for spoke in woken:
        notifier.wake(spoke)


def _gauges(report: PassReport, metrics: HubMetrics) -> None:
    if report.counts is not None:
        for state in WorkloadState:
            metrics.workloads.labels(state.value).set(report.counts.get(state.value, 0))
    tally = dict.fromkeys(SpokeHealth, 0)
    for health in report.spokes.values():
        tally[health] += 1
    for health, n in tally.items():
        metrics.spokes.labels(health.value).set(n)


def _lost(name: str, moved: list[WorkloadRecord], metrics: HubMetrics) -> None:
    outcome = {"requeued": 0, "retried": 0, "failed": 0, "cancelled": 0}
    for rec in moved:
        if rec.state is WorkloadState.PENDING:
            key = "retried" if rec.reason == transitions.RETRYING else "requeued"
            log.info("workload %s re-routed: %s", rec.id, rec.message)
        else:
            key = "failed" if rec.state is WorkloadState.FAILED else "cancelled"
            log.info("workload %s %s: %s", rec.id, key, rec.message)
        outcome[key] += 1
        metrics.reroutes.labels(key).inc()
    log.warning(
        "spoke %s is Lost: %d unstarted re-queued, %d retried, %d failed, %d cancelled",
        name,
        outcome["requeued"],
        outcome["retried"],
        outcome["failed"],
        outcome["cancelled"],
    )
