"""When a silent spoke stops being trusted: the lease rules, as pure functions of time.

The costly mistakes of multi-cluster schedulers are here: declaring a spoke Lost after a
blip (duplicate work), or after the hub's own outage (a mass kill of healthy work when
the spokes reconnect), or while the hub's own network is the thing that is broken. The
rules below take `now` and the hub's start time as arguments, so tests can step through
hours of silence without a sleep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kindfleet.platform.wire import SpokeHealth


@dataclass(frozen=True, slots=True)
class LeaseRules:
    lease_seconds: float = 6.0  # NotReady after this long without a heartbeat
    lost_after_seconds: float = 30.0  # Lost (work re-routed) after this long


@dataclass(frozen=True, slots=True)
class SpokeLease:
    name: str
    last_heartbeat: float
    health: SpokeHealth  # as last recorded


@dataclass(frozen=True, slots=True)
class Sweep:
    changes: dict[str, SpokeHealth]  # spokes whose health changes now
    guarded: bool  # the disruption guard held back at least one Lost verdict


def observed(
    lease: SpokeLease, now: float, hub_started_at: float, rules: LeaseRules
) -> SpokeHealth:
    """Health from heartbeat age alone.

    NotReady counts from the real last heartbeat; Lost counts from the later of the last
    heartbeat and the hub's start, so every spoke gets a fresh `lost_after` window to
    reconnect after a hub restart, however long the hub was away.
    """
    if lease.health is SpokeHealth.LOST:
        return SpokeHealth.LOST  # only a heartbeat brings a Lost spoke back
    if now - lease.last_heartbeat < rules.lease_seconds:
        return SpokeHealth.READY
    if now - max(lease.last_heartbeat, hub_started_at) < rules.lost_after_seconds:
        return SpokeHealth.NOT_READY
    return SpokeHealth.LOST


def disrupted(not_ready: int, population: int) -> bool:
    """More than half of the live spokes, and at least two, silent at once: suspect the hub."""
    return not_ready >= 2 and 2 * not_ready > population


def sweep(
    leases: Sequence[SpokeLease], now: float, hub_started_at: float, rules: LeaseRules
) -> Sweep:
    """New health for every spoke, with the disruption guard applied.

    The population is the spokes not already Lost (a decommissioned spoke must not hold
    the guard on forever). While the guard holds, spokes that would be Lost stay NotReady.
    """
    live = [lease for lease in leases if lease.health is not SpokeHealth.LOST]
    seen = {lease.name: observed(lease, now, hub_started_at, rules) for lease in live}
    silent = sum(1 for health in seen.values() if health is not SpokeHealth.READY)
    guarded = False
    if disrupted(silent, len(live)):
        for name, health in seen.items():
            if health is SpokeHealth.LOST:
                seen[name] = SpokeHealth.NOT_READY
                guarded = True
    changes = {lease.name: seen[lease.name] for lease in live if seen[lease.name] != lease.health}
    return Sweep(changes=changes, guarded=guarded)
