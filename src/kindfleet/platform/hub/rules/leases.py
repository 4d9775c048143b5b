"""When a silent spoke stops being trusted: the lease rules, as pure functions of time.

The costly mistakes of multi-cluster schedulers are here: declaring a spoke Lost after a
blip (duplicate work), or after the hub's own outage (a mass kill of healthy work when
the spokes reconnect), or while the hub's own network is the thing that is broken, or on
silence the hub could not have heard (its own restart, a stalled loop, a store that
cannot commit: see `hearing`). The rules below take each spoke's silence as an argument,
already measured in audible seconds, so tests can step through hours of it without a
sleep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kindfleet.platform.wire import SpokeHealth


@dataclass(frozen=True, slots=True)
class LeaseRules:
    lease_seconds: float = 6.0  # NotReady after this long without a heartbeat
    lost_after_seconds: float = 30.0  # Lost (work re-routed) after this long
    guard_max_seconds: float = 30.0  # the disruption guard delays a Lost verdict at most this


@dataclass(frozen=True, slots=True)
class SpokeLease:
    name: str
    age: float  # seconds since its last heartbeat, by the clock: NotReady past the lease
    silence: float  # audible seconds since it was last heard (hearing.py): Lost past lost_after
    health: SpokeHealth  # as last recorded
    established: bool = True  # heartbeated since it joined (a spoke that never did is not)
    approved: bool = True  # a spoke awaiting approval does not count toward the guard


@dataclass(frozen=True, slots=True)
class Guard:
    """The disruption guard as the operator sees it: on or off, and why."""

    active: bool = False
    silent: tuple[str, ...] = ()  # the counted spokes that are not Ready
    population: int = 0  # spokes that count: joined, approved, heartbeated, not Lost
    held: tuple[str, ...] = ()  # spokes that would be Lost now but for the guard
    until: float | None = None  # when the last hold ends, whatever happens
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Sweep:
    changes: dict[str, SpokeHealth]  # spokes whose health changes now
    guard: Guard

    @property
    def guarded(self) -> bool:
        return self.guard.active


def observed(lease: SpokeLease, rules: LeaseRules) -> SpokeHealth:
    """Health from the spoke's silence alone.

    NotReady (nothing new placed there) counts from its real last heartbeat; Lost (its
    work moves) only on silence the hub could hear, so a spoke last heard before the hub
    restarted gets a fresh `lost_after` window from when the hub serves again, however
    long the hub was away, and a hub that stalls does not blame its spokes for it.
    """
    if lease.health is SpokeHealth.LOST:
        return SpokeHealth.LOST  # only a heartbeat brings a Lost spoke back
    if lease.silence >= rules.lost_after_seconds:
        return SpokeHealth.LOST
    if max(lease.age, lease.silence) < rules.lease_seconds:
        return SpokeHealth.READY
    return SpokeHealth.NOT_READY


def disrupted(not_ready: int, population: int) -> bool:
    """More than half of the live spokes, and at least two, silent at once: suspect the hub."""
    return not_ready >= 2 and 2 * not_ready > population


def sweep(leases: Sequence[SpokeLease], now: float, rules: LeaseRules) -> Sweep:
    """New health for every spoke, with the disruption guard applied.

    The guard counts only spokes that were working: approved, heartbeated at least once
    since they joined, not already Lost (so spokes that register and never heartbeat, or
    were decommissioned, cannot turn it on). While more than half of those, and at least
    two, are silent, it holds back their Lost verdicts, but never for more than
    `guard_max_seconds` past the moment each would have been Lost: it ends on its own.
    `now` only dates the guard's end for the operator.
    """
    live = [lease for lease in leases if lease.health is not SpokeHealth.LOST]
    seen = {lease.name: observed(lease, rules) for lease in live}
    counted = [lease for lease in live if lease.established and lease.approved]
    silent = [lease for lease in counted if seen[lease.name] is not SpokeHealth.READY]
    guard = Guard(population=len(counted))
    if disrupted(len(silent), len(counted)):
        guard = _hold(silent, seen, now, rules, population=len(counted))
    changes = {lease.name: seen[lease.name] for lease in live if seen[lease.name] != lease.health}
    return Sweep(changes=changes, guard=guard)


def _hold(
    silent: Sequence[SpokeLease],
    seen: dict[str, SpokeHealth],
    now: float,
    rules: LeaseRules,
    *,
    population: int,
) -> Guard:
    extra = rules.lost_after_seconds + rules.guard_max_seconds
    held = []
    for lease in silent:
        if seen[lease.name] is SpokeHealth.LOST and lease.silence < extra:
            seen[lease.name] = SpokeHealth.NOT_READY
            held.append(lease.name)
    until = now + max(max(0.0, extra - lease.silence) for lease in silent)
    names = ", ".join(lease.name for lease in silent[:5]) + (", ..." if len(silent) > 5 else "")
    reason = (
        f"{len(silent)} of {population} working spokes are silent at once ({names}): the "
        "hub suspects its own network and holds back Lost verdicts, each for at most "
        f"{rules.guard_max_seconds:g}s past its {rules.lost_after_seconds:g}s window"
    )
    return Guard(
        active=True,
        silent=tuple(lease.name for lease in silent),
        population=population,
        held=tuple(held),
        until=until,
        reason=reason,
    )
