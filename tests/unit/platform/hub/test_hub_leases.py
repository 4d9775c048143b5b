"""Lease rules: blips stay NotReady, silence becomes Lost, a hub restart and a mass outage
do not turn into a mass kill, and the disruption guard can neither be turned on by spokes
that never worked nor stay on for good.

The rules see each spoke's silence already measured (audible seconds, `hearing`): `age` is
the clock's time since its heartbeat (NotReady), `silence` what the hub could hear of it
(Lost). `lease("a", 30)` is a spoke silent for 30 audible seconds, its age the same.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kindfleet.platform.hub.rules.leases import LeaseRules, SpokeLease, disrupted, observed, sweep
from kindfleet.platform.wire import SpokeHealth

RULES = LeaseRules(lease_seconds=6, lost_after_seconds=30)
READY, NOT_READY, LOST = SpokeHealth.READY, SpokeHealth.NOT_READY, SpokeHealth.LOST
NOW = 1_000_000.0


def lease(name, silence, health=READY, *, age=None, established=True, approved=True):
    return SpokeLease(
        name,
        age=silence if age is None else age,
        silence=silence,
        health=health,
        established=established,
        approved=approved,
    )


@pytest.mark.parametrize(
    ("silence", "health"),
    [(0, READY), (5.9, READY), (6, NOT_READY), (29.9, NOT_READY), (30, LOST), (3600, LOST)],
)
def test_silence(silence, health):
    assert observed(lease("a", silence), RULES) is health


def test_a_blip_of_missed_heartbeats_is_only_not_ready():
    result = sweep([lease("a", 10), lease("b", 0), lease("c", 0)], NOW, RULES)
    assert result.changes == {"a": NOT_READY}


def test_hub_restart_gives_every_spoke_a_fresh_window():
    """Last heard an hour ago by the clock, but the hub has served for only 29 s: the
    silence it could hear is 29 s, so NotReady, not Lost; Lost at 30 s of serving."""
    assert observed(lease("a", 1, age=3600), RULES) is NOT_READY
    assert observed(lease("a", 29, age=3629), RULES) is NOT_READY
    assert observed(lease("a", 30, age=3630), RULES) is LOST


def test_a_stalled_hub_does_not_blame_its_spokes():
    """Heard 40 s ago by the clock, but the hub was deaf (stalled loop, store down) for
    15 of them: 25 audible seconds, NotReady."""
    assert observed(lease("a", 25, age=40), RULES) is NOT_READY


def test_lost_stays_lost_until_a_heartbeat():
    assert observed(lease("a", 0, LOST), RULES) is LOST
    assert sweep([lease("a", 0, LOST)], NOW, RULES).changes == {}


def test_disruption_guard_holds_when_most_spokes_go_silent():
    leases = [lease("a", 40), lease("b", 40), lease("c", 0)]
    result = sweep(leases, NOW, RULES)
    assert result.guarded
    assert result.changes == {"a": NOT_READY, "b": NOT_READY}
    assert result.guard.held == ("a", "b") and result.guard.population == 3
    assert result.guard.until == NOW + (30 + 30 - 40)
    assert "2 of 3 working spokes are silent" in (result.guard.reason or "")


def test_the_guard_ends_on_its_own():
    """Each Lost verdict is held at most guard_max past its window, whatever happens."""
    leases = [lease("a", 59), lease("b", 59), lease("c", 59)]
    assert sweep(leases, NOW, RULES).changes == {"a": NOT_READY, "b": NOT_READY, "c": NOT_READY}
    leases = [lease("a", 60), lease("b", 60), lease("c", 60)]
    result = sweep(leases, NOW, RULES)
    assert result.changes == {"a": LOST, "b": LOST, "c": LOST}
    assert result.guard.held == ()


def test_spokes_that_never_heartbeat_do_not_count_toward_the_guard():
    """Phantoms (registered, never a heartbeat) neither turn the guard on nor are held."""
    phantoms = [lease(f"p{i}", 31, established=False) for i in range(5)]
    result = sweep([*phantoms, lease("real", 31)], NOW, RULES)
    assert not result.guarded
    assert result.changes["real"] is LOST
    assert all(result.changes[p.name] is LOST for p in phantoms)


def test_spokes_awaiting_approval_do_not_count_toward_the_guard():
    waiting = [lease(f"w{i}", 31, approved=False) for i in range(3)]
    result = sweep([*waiting, lease("real", 31), lease("ok", 0)], NOW, RULES)
    assert not result.guarded and result.changes["real"] is LOST


def test_no_guard_for_a_minority():
    result = sweep([lease("a", 100), lease("b", 0), lease("c", 0)], NOW, RULES)
    assert not result.guarded and result.changes == {"a": LOST}


def test_a_single_spoke_fleet_can_still_lose_its_spoke():
    result = sweep([lease("a", 100)], NOW, RULES)
    assert result.changes == {"a": LOST} and not result.guarded


def test_two_of_two_silent_is_a_disruption():
    result = sweep([lease("a", 40), lease("b", 40)], NOW, RULES)
    assert result.guarded and result.changes == {"a": NOT_READY, "b": NOT_READY}


def test_spokes_already_lost_do_not_hold_the_guard():
    leases = [lease("old1", 1e6, LOST), lease("old2", 1e6, LOST), lease("a", 100), lease("b", 0)]
    assert sweep(leases, NOW, RULES).changes == {"a": LOST}


def test_disrupted_thresholds():
    assert not disrupted(1, 1)
    assert disrupted(2, 2)
    assert disrupted(2, 3)
    assert not disrupted(2, 4)
    assert disrupted(3, 5)


@given(
    silences=st.lists(st.floats(0, 10_000), min_size=1, max_size=12),
    extra_age=st.floats(0, 10_000),
)
def test_lost_only_on_audible_silence_and_never_past_the_guard(silences, extra_age):
    """Whatever the clock says (age >= silence), Lost needs lost_after of audible
    silence, and the guard holds no verdict past lost_after + guard_max."""
    leases = [lease(f"s{i}", s, age=s + extra_age) for i, s in enumerate(silences)]
    result = sweep(leases, NOW, RULES)
    window = RULES.lost_after_seconds + RULES.guard_max_seconds
    for i, s in enumerate(silences):
        lost = result.changes.get(f"s{i}") is LOST
        if s < RULES.lost_after_seconds:
            assert not lost
        if s >= window:
            assert lost
        if lost:
            assert s >= RULES.lost_after_seconds
