"""comms: the hub and its spokes talk. Every spoke of the fleet file is registered and
heartbeating, and work goes out over the long-poll and its reports come back."""

from __future__ import annotations

import statistics
import time

from kindfleet.checks.context import Check, Context
from kindfleet.checks.model import CheckFailed
from kindfleet.platform.wire import Workload, WorkloadState


def registered(ctx: Context) -> tuple[str, dict[str, float]]:
    with ctx.target.hub(kubeconfig=ctx.options.kubeconfig) as hub:
        known = {s.name for s in hub.spokes()}
    wanted = [s.name for s in ctx.spec.spokes]
    missing = [s for s in wanted if s not in known]
    if missing:
        raise CheckFailed(f"not registered with the hub: {', '.join(missing)}")
    return f"{len(wanted)} spokes registered", {"spokes": len(wanted)}


def heartbeating(ctx: Context) -> tuple[str, dict[str, float]]:
    """Every spoke Ready, and each renews its lease (a newer heartbeat is seen)."""
    names = {s.name for s in ctx.spec.spokes}

    def beats() -> dict[str, float]:
        with ctx.target.hub(kubeconfig=ctx.options.kubeconfig) as hub:
            return {
                s.name: s.last_heartbeat.timestamp() if s.last_heartbeat else 0.0
                for s in hub.spokes()
                if s.name in names and s.health.value == "Ready"
            }

    first = ctx.until(
        lambda: (b := beats()) and len(b) == len(names) and b, "every spoke Ready", 60
    )
    renewed = ctx.until(
        lambda: (b := beats()) and all(b.get(n, 0) > first[n] for n in names) and b,
        "every spoke to renew its lease",
        60,
    )
    ages = [time.time() - t for t in renewed.values()]
    gaps = [renewed[n] - first[n] for n in names]
    return (
        f"every spoke Ready and renewing (heartbeat gap up to {max(gaps):.1f}s)",
        {"heartbeat_gap_max_s": max(gaps), "heartbeat_age_max_s": max(ages)},
    )


def round_trip(ctx: Context) -> tuple[str, dict[str, float]]:
    """Submit -> assigned over the long-poll -> started and finished reports back."""
    specs = [ctx.workload("ping", 0.1) for _ in ctx.spec.spokes]
    ids = ctx.submit(specs)
    done = ctx.wait(ids, lambda w: w.state.terminal, "the ping workloads to finish", 120)
    failed = [w.id for w in done if w.state != WorkloadState.SUCCEEDED]
    if failed:
        raise CheckFailed(f"ping workloads did not succeed: {failed}")
    starts = [_seconds(w, "start") for w in done]
    ends = [_seconds(w, "end") for w in done]
    spokes = sorted({w.spoke or "" for w in done})
    return (
        f"submit to start p50 {statistics.median(starts) * 1000:.0f} ms over {len(spokes)} "
        f"spoke(s), submit to finished report p50 {statistics.median(ends) * 1000:.0f} ms",
        {
            "submit_to_start_p50_ms": statistics.median(starts) * 1000,
            "submit_to_start_max_ms": max(starts) * 1000,
            "submit_to_done_p50_ms": statistics.median(ends) * 1000,
        },
    )


def _seconds(w: Workload, which: str) -> float:
    attempt = w.attempts[-1]
    at = attempt.started_at if which == "start" else attempt.finished_at
    if at is None:
        raise CheckFailed(f"{w.id} has no {which} time")
    return (at - w.submitted_at).total_seconds()


CHECKS: dict[str, Check] = {
    "spokes-registered": registered,
    "heartbeating": heartbeating,
    "round-trip": round_trip,
}
