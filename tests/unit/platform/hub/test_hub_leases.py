"""Lease rules: blips stay NotReady, silence becomes Lost, a hub restart and a mass outage
do not turn into a mass kill, and the disruption guard can neither be turned on by spokes
that never worked nor stay on for good."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kindfleet.platform.hub.rules.leases import LeaseRules, SpokeLease, disrupted, observed, sweep
from kindfleet.platform.wire import SpokeHealth

RULES = LeaseRules(lease_seconds=6, lost_after_seconds=30)
READY, NOT_READY, LOST = SpokeHealth.READY, SpokeHealth.NOT_READY, SpokeHealth.LOST
START = 0.0  # the hub started long before these heartbeats


def lease(name, last, health=READY, *, established=True, approved=True):
    return SpokeLease(name, last, health, established=established, approved=approved)


@pytest.mark.parametrize(
    ("age", "health"),
    [(0, READY), (5.9, READY), (6, NOT_READY), (29.9, NOT_READY), (30, LOST), (3600, LOST)],
)
def test_heartbeat_age(age, health):
    assert observed(lease("a", 1000), 1000 + age, START, RULES) is health


def test_a_blip_of_missed_heartbeats_is_only_not_ready():
    result = sweep([lease("a", 1000), lease("b", 1010), lease("c", 1010)], 1010, START, RULES)
    assert result.changes == {"a": NOT_READY}


def test_hub_restart_gives_every_spoke_a_fresh_window():
    started = 5000.0  # the hub was down from 1000 to 5000
    assert observed(lease("a", 1000), started + 1, started, RULES) is NOT_READY
    assert observed(lease("a", 1000), started + 29, started, RULES) is NOT_READY
    assert observed(lease("a", 1000), started + 30, started, RULES) is LOST


def test_lost_stays_lost_until_a_heartbeat():
    assert observed(lease("a", 1000, LOST), 1001, START, RULES) is LOST
    assert sweep([lease("a", 1000, LOST)], 1001, START, RULES).changes == {}


def test_disruption_guard_holds_when_most_spokes_go_silent():
    leases = [lease("a", 1000), lease("b", 1000), lease("c", 1040)]
    result = sweep(leases, 1040, START, RULES)
    assert result.guarded
    assert result.changes == {"a": NOT_READY, "b": NOT_READY}
    assert result.guard.held == ("a", "b") and result.guard.population == 3
    assert result.guard.until == 1000 + 30 + 30
    assert "2 of 3 working spokes are silent" in (result.guard.reason or "")


def test_the_guard_ends_on_its_own():
    """Each Lost verdict is held at most guard_max past its window, whatever happens."""
    leases = [lease("a", 1000), lease("b", 1000), lease("c", 1000)]
    assert sweep(leases, 1059, START, RULES).changes == {
        "a": NOT_READY,
        "b": NOT_READY,
        "c": NOT_READY,
    }
    result = sweep(leases, 1060, START, RULES)
    assert result.changes == {"a": LOST, "b": LOST, "c": LOST}
    assert result.guard.held == ()


def test_spokes_that_never_heartbeat_do_not_count_toward_the_guard():
    """Phantoms (registered, never a heartbeat) neither turn the guard on nor are held."""
    phantoms = [lease(f"p{i}", 1000, established=False) for i in range(5)]
    real = lease("real", 1000)
    result = sweep([*phantoms, real], 1031, START, RULES)
    assert not result.guarded
    assert result.changes["real"] is LOST
    assert all(result.changes[p.name] is LOST for p in phantoms)


def test_spokes_awaiting_approval_do_not_count_toward_the_guard():
    waiting = [lease(f"w{i}", 1000, approved=False) for i in range(3)]
    result = sweep([*waiting, lease("real", 1000), lease("ok", 1031)], 1031, START, RULES)
    assert not result.guarded and result.changes["real"] is LOST


def test_no_guard_for_a_minority():
    leases = [lease("a", 1000), lease("b", 1100), lease("c", 1100)]
    result = sweep(leases, 1100, START, RULES)
    assert not result.guarded and result.changes == {"a": LOST}


def test_a_single_spoke_fleet_can_still_lose_its_spoke():
    result = sweep([lease("a", 1000)], 1100, START, RULES)
    assert result.changes == {"a": LOST} and not result.guarded


def test_two_of_two_silent_is_a_disruption():
    result = sweep([lease("a", 1000), lease("b", 1000)], 1040, START, RULES)
    assert result.guarded and result.changes == {"a": NOT_READY, "b": NOT_READY}


def test_spokes_already_lost_do_not_hold_the_guard():
    leases = [lease("old1", 0, LOST), lease("old2", 0, LOST), lease("a", 1000), lease("b", 1100)]
    assert sweep(leases, 1100, START, RULES).changes == {"a": LOST}


def test_disrupted_thresholds():
    assert not disrupted(1, 1)
    assert disrupted(2, 2)
    assert disrupted(2, 3)
    assert not disrupted(2, 4)
    assert disrupted(3, 5)


@given(
    ages=st.lists(st.floats(0, 10_000), min_size=1, max_size=12),
    since_start=st.floats(0, 10_000),
)
def test_nothing_is_lost_within_lost_after_of_the_hub_start(ages, since_start):
    now = 100_000.0
    started = now - since_start
    result = sweep([lease(f"s{i}", now - a) for i, a in enumerate(ages)], now, started, RULES)
    if since_start < RULES.lost_after_seconds:
        assert LOST not in result.changes.values()
    silent = sum(1 for a in ages if a >= RULES.lease_seconds)
    window = RULES.lost_after_seconds + RULES.guard_max_seconds
    if disrupted(silent, len(ages)):
        for i, a in enumerate(ages):  # held, but never past the guard's bound
            lost = result.changes.get(f"s{i}") is LOST
            assert lost == (min(a, since_start) >= window)
