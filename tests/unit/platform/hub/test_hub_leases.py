"""Lease rules: blips stay NotReady, silence becomes Lost, a hub restart and a mass outage
do not turn into a mass kill."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kindfleet.platform.hub.rules.leases import LeaseRules, SpokeLease, disrupted, observed, sweep
from kindfleet.platform.wire import SpokeHealth

RULES = LeaseRules(lease_seconds=6, lost_after_seconds=30)
READY, NOT_READY, LOST = SpokeHealth.READY, SpokeHealth.NOT_READY, SpokeHealth.LOST
START = 0.0  # the hub started long before these heartbeats


def lease(name, last, health=READY):
    return SpokeLease(name, last, health)


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
    leases = [lease("a", 1000), lease("b", 1000), lease("c", 1100)]
    result = sweep(leases, 1100, START, RULES)
    assert result.guarded
    assert result.changes == {"a": NOT_READY, "b": NOT_READY}


def test_no_guard_for_a_minority():
    leases = [lease("a", 1000), lease("b", 1100), lease("c", 1100)]
    result = sweep(leases, 1100, START, RULES)
    assert not result.guarded and result.changes == {"a": LOST}


def test_a_single_spoke_fleet_can_still_lose_its_spoke():
    result = sweep([lease("a", 1000)], 1100, START, RULES)
    assert result.changes == {"a": LOST} and not result.guarded


def test_two_of_two_silent_is_a_disruption():
    result = sweep([lease("a", 1000), lease("b", 1000)], 1100, START, RULES)
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
    if disrupted(silent, len(ages)):
        assert LOST not in result.changes.values()
