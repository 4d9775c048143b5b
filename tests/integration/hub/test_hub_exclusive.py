"""The hub's side of exclusive work and of its hearing, on a fake clock: exclusive work on
a Lost spoke waits for its full lease of silence the hub could hear (also across a hub
restart), a slow hub start spends no spoke's window, a stop for an expired lease is
retried like a lost spoke, and a hub whose store refuses commits is not ready."""

from __future__ import annotations

import pytest
from tests.integration.hub.conftest import hub_settings
from tests.integration.hub.test_hub_service import keep_alive, running_on

from kindfleet.platform.hub.service.hub_service import HubService
from kindfleet.platform.store import StoreUnavailable
from kindfleet.platform.wire import EventType, Mode, RetryPolicy, SpokeHealth, WorkloadState

A, R, F = WorkloadState.ASSIGNED, WorkloadState.RUNNING, WorkloadState.FAILED
RETRY = RetryPolicy(max_retries=1)


def exclusive(lease: float):
    return {"mode": Mode.EXCLUSIVE, "lease_seconds": lease, "retry": RETRY}


async def test_exclusive_work_waits_its_full_lease_after_the_spoke_is_lost(
    hub, make_spoke, make_spec, clock
):
    s1 = await make_spoke("s1")
    long = await running_on(hub, s1, make_spec, **exclusive(50))
    plain = await running_on(hub, s1, make_spec, retry=RETRY)
    s2 = await make_spoke("s2")
    await keep_alive(clock, hub, 30, s2)  # 30 s: s1 Lost, its autonomous work moves
    assert (await hub.get(plain.id)).spoke == "s2"
    assert (await hub.get(long.id)).spoke == "s1"  # its spoke may still run it
    await keep_alive(clock, hub, 18, s2)
    assert (await hub.get(long.id)).spoke == "s1"  # 48 s: not yet
    await keep_alive(clock, hub, 2, s2)  # 50 s of silence: placed again
    moved = await hub.get(long.id)
    assert (moved.state, moved.spoke, moved.generation) == (A, "s2", 2)


async def test_a_short_lease_moves_when_the_spoke_is_lost(hub, make_spoke, make_spec, clock):
    s1 = await make_spoke("s1")
    wl = await running_on(hub, s1, make_spec, **exclusive(10))
    s2 = await make_spoke("s2")
    await keep_alive(clock, hub, 28, s2)
    assert (await hub.get(wl.id)).spoke == "s1"  # the lease is past, the spoke not Lost
    await keep_alive(clock, hub, 2, s2)
    assert (await hub.get(wl.id)).spoke == "s2"


async def test_a_hub_restart_gives_exclusive_work_a_fresh_lease(
    hubs, hub, make_spoke, make_spec, clock
):
    s1 = await make_spoke("s1")
    wl = await running_on(hub, s1, make_spec, **exclusive(50))
    s2 = await make_spoke("s2")
    await keep_alive(clock, hub, 40, s2)  # s1 Lost, the work waits (40 < 50)
    hub2 = await hubs.restart(hub)
    s2.hub = hub2
    await keep_alive(clock, hub2, 48, s2)  # counted again from this hub's serving
    assert (await hub2.get(wl.id)).spoke == "s1"
    await keep_alive(clock, hub2, 2, s2)
    assert (await hub2.get(wl.id)).spoke == "s2"


async def test_a_spoke_back_before_its_lease_keeps_its_exclusive_work(
    hub, make_spoke, make_spec, clock
):
    s1 = await make_spoke("s1")
    wl = await running_on(hub, s1, make_spec, **exclusive(100))
    await keep_alive(clock, hub, 60)
    assert {s.name: s.health for s in (await hub.spokes()).items}["s1"] is SpokeHealth.LOST
    beat = await s1.beat(held=[(wl.id, 1)])
    assert beat.stop == [] and beat.health is SpokeHealth.READY
    await keep_alive(clock, hub, 60, s1)
    assert (await hub.get(wl.id)).state is R and (await hub.get(wl.id)).spoke == "s1"


async def test_lease_expired_is_retried_like_a_lost_spoke(hub, make_spoke, make_spec):
    s1 = await make_spoke("s1")
    no_lost_retry = RetryPolicy(max_retries=1, retry_on_spoke_lost=False)
    wl = await running_on(hub, s1, make_spec, **exclusive(10))
    kept = await running_on(hub, s1, make_spec, **{**exclusive(10), "retry": no_lost_retry})
    await s1.report(wl.id, 1, EventType.FAILED, reason="LeaseExpired", exit_code=143)
    await s1.report(kept.id, 1, EventType.FAILED, reason="LeaseExpired", exit_code=143)
    retried = await hub.get(wl.id)
    assert retried.state is not F and retried.retries_used == 1
    assert (await hub.get(kept.id)).state is F


async def test_a_slow_hub_start_spends_no_spokes_window(store_url, make_spec, clock, driver):
    """The hub takes 100 s to come up (store replay, queue rebuilt): silence counts from
    when it serves, so a spoke silent since before is Lost only 30 s after that."""
    first = HubService(hub_settings(store_url), clock=clock)
    await first.start()
    first.serving()
    s1 = await driver(first, "s1").register()
    wl = await running_on(first, s1, make_spec)
    await first.close()
    hub = HubService(hub_settings(store_url), clock=clock)
    try:
        await hub.start()
        clock.advance(100)  # not serving yet
        await hub.tick()
        assert (await hub.get(wl.id)).state is R
        hub.serving()
        clock.advance(29)
        await hub.tick()
        assert (await hub.get(wl.id)).state is R
        clock.advance(1)
        await hub.tick()
        assert (await hub.get(wl.id)).state is F
    finally:
        await hub.close()


async def test_a_hub_whose_store_cannot_commit_is_not_ready_and_hears_nothing(
    hub, make_spoke, make_spec, clock
):
    s1 = await make_spoke("s1")
    wl = await running_on(hub, s1, make_spec)
    await hub.ready()
    hub.ears.store(committed=False)  # what the writer reports when a commit fails
    with pytest.raises(StoreUnavailable, match="refused every commit"):
        await hub.ready()
    clock.advance(60)  # a minute of refused commits: heartbeats could not be kept
    await hub.tick()
    assert (await hub.get(wl.id)).state is R
    await s1.beat(held=[(wl.id, 1)])  # the store commits again
    await hub.ready()
    clock.advance(29)
    await hub.tick()
    assert (await hub.get(wl.id)).state is R
