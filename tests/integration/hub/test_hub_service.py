"""The hub service end to end on a real store (SQLite and PostgreSQL), on a fake clock:
submission, placement, delivery, reports, and the failures peers get wrong."""

from __future__ import annotations

import asyncio
import time

import pydantic
import pytest
from tests.integration.hub.conftest import BOOTSTRAP_TOKEN, CLIENT_TOKEN

from kindfleet.platform.hub.service import hub_service
from kindfleet.platform.hub.service.reads import ListQuery, TelemetryQuery
from kindfleet.platform.hub.service.refusals import (
    Conflict,
    Gone,
    Invalid,
    NotFound,
    Unauthorized,
)
from kindfleet.platform.hub.service.tokens import token_hash
from kindfleet.platform.wire import (
    BatchItem,
    Capacity,
    EventBatch,
    EventType,
    HeartbeatRequest,
    RegisterRequest,
    Resources,
    RetryPolicy,
    Selector,
    SpokeHealth,
    TelemetryPoint,
    WorkloadState,
)

P, A, R = WorkloadState.PENDING, WorkloadState.ASSIGNED, WorkloadState.RUNNING


async def running_on(hub, spoke, make_spec, **kw):
    """Submit, place on `spoke`, start: the workload as the hub now sees it."""
    sub = await hub.submit(f"key-{time.monotonic_ns()}", make_spec(**kw))
    await hub.tick()
    wl = await hub.get(sub.workload.id)
    assert wl.state is A and wl.spoke == spoke.name
    await spoke.report(wl.id, wl.generation, EventType.STARTED)
    return await hub.get(wl.id)


async def keep_alive(clock, hub, seconds, *spokes, step=2.0):
    """Let `seconds` pass, with `spokes` heartbeating every `step` and a pass each step."""
    end = clock.now + seconds
    while clock.now < end:
        clock.advance(min(step, end - clock.now))
        for s in spokes:
            await s.beat()
        await hub.tick()


# ---------------------------------------------------------------- submission


async def test_submission_is_idempotent(hub, make_spec):
    first = await hub.submit("k1", make_spec())
    again = await hub.submit("k1", make_spec())
    assert first.created and not again.created
    assert again.workload.id == first.workload.id
    with pytest.raises(Conflict, match="different spec"):
        await hub.submit("k1", make_spec(command=["other"]))
    assert len((await hub.list_workloads(ListQuery())).items) == 1


async def test_same_spec_written_differently_is_the_same_submission(hub, make_spec):
    a = await hub.submit("k", make_spec(env={"A": "1", "B": "2"}))
    b = await hub.submit("k", make_spec(env={"B": "2", "A": "1"}))
    assert not b.created and b.workload.id == a.workload.id


async def test_missing_idempotency_key_is_refused(hub, make_spec):
    with pytest.raises(Invalid, match="Idempotency-Key header is required"):
        await hub.submit(None, make_spec())


async def test_concurrent_submissions_commit_together(hub, make_spec):
    keys = [f"k{i % 150}" for i in range(200)]  # 50 repeats inside the same groups
    results = await asyncio.gather(*(hub.submit(k, make_spec()) for k in keys))
    by_key: dict[str, str] = {}
    for key, res in zip(keys, results, strict=True):
        assert by_key.setdefault(key, res.workload.id) == res.workload.id
    assert sum(r.created for r in results) == 150
    listed = await hub.list_workloads(ListQuery(limit=1000))
    assert len(listed.items) == 150


async def test_batch_is_all_or_nothing(hub, make_spec):
    await hub.submit("taken", make_spec())
    items = [
        BatchItem(idempotency_key="new-1", spec=make_spec()),
        BatchItem(idempotency_key="taken", spec=make_spec(command=["different"])),
    ]
    with pytest.raises(Conflict, match=r"items\[1\]"):
        await hub.submit_batch(items)
    assert len((await hub.list_workloads(ListQuery())).items) == 1
    ok = await hub.submit_batch(
        [BatchItem(idempotency_key=f"b{i}", spec=make_spec()) for i in range(5)]
    )
    assert [r.created for r in ok] == [True] * 5


async def test_a_batch_repeating_a_key_names_the_earlier_item_not_an_unstored_id(hub, make_spec):
    """Found from outside: the 409 named the id the first item would have had, which the
    refused batch never stored (GET answered 404)."""
    items = [
        BatchItem(idempotency_key="twice", spec=make_spec()),
        BatchItem(idempotency_key="twice", spec=make_spec(command=["different"])),
    ]
    with pytest.raises(Conflict) as refused:
        await hub.submit_batch(items)
    assert "items[1].idempotency key was already used for items[0] of this batch" in str(
        refused.value
    )
    assert "wl-" not in str(refused.value)
    assert (await hub.list_workloads(ListQuery())).items == []


@pytest.mark.parametrize("program", ["", "  "])
async def test_an_empty_program_is_refused(hub, make_spec, program):
    """Found from outside: `submit -- ''` was taken, and failed on its spoke."""
    with pytest.raises(Invalid) as err:
        await hub.submit("k", make_spec(command=[program, "arg"]))
    assert err.value.errors[0] == {
        "path": "command[0]",
        "message": "the program to run must not be empty",
    }
    assert (await hub.submit("k2", make_spec(command=["echo", ""]))).created  # an arg may be


async def test_selector_without_values_is_refused(hub, make_spec):
    bad = make_spec(
        selector=Selector.model_validate({"match_expressions": [{"key": "zone", "operator": "In"}]})
    )
    with pytest.raises(Invalid) as err:
        await hub.submit("k", bad)
    assert err.value.errors[0]["path"] == "selector.match_expressions[0].values"


async def test_lists_newest_first_with_cursor_and_filters(hub, make_spec):
    ids = [
        (await hub.submit(f"k{i}", make_spec(labels={"team": "a" if i % 2 else "b"}))).workload.id
        for i in range(5)
    ]
    first = await hub.list_workloads(ListQuery(limit=2))
    assert [w.id for w in first.items] == ids[::-1][:2]
    assert first.next_cursor is not None
    second = await hub.list_workloads(ListQuery(limit=2, before=int(first.next_cursor)))
    assert [w.id for w in second.items] == ids[::-1][2:4]
    team_a = await hub.list_workloads(ListQuery(labels={"team": "a"}))
    assert {w.id for w in team_a.items} == {ids[1], ids[3]}
    pending = await hub.list_workloads(ListQuery(state=P))
    assert len(pending.items) == 5
    assert (await hub.list_workloads(ListQuery(state=R))).items == []


async def test_unknown_workload(hub):
    with pytest.raises(NotFound):
        await hub.get("wl-00000000000000000000")
    with pytest.raises(NotFound):
        await hub.get("not an id at all\x00")


# ---------------------------------------------------------------- placement and delivery


async def test_placement_delivery_and_redelivery(hub, make_spoke, make_spec, clock):
    spoke = await make_spoke("s1")
    sub = await hub.submit("k", make_spec())
    report = await hub.tick()
    assert [r.id for r in report.placed] == [sub.workload.id]
    wl = await hub.get(sub.workload.id)
    assert (wl.state, wl.spoke, wl.generation) == (A, "s1", 1)

    items = await spoke.poll()
    assert [(i.workload, i.generation, i.cancel) for i in items] == [(wl.id, 1, False)]
    assert await spoke.poll() == []  # just sent: not yet due again
    clock.advance(5)
    assert [i.workload for i in await spoke.poll()] == [wl.id]  # unacknowledged: sent again
    await spoke.report(wl.id, 1, EventType.ACCEPTED)
    clock.advance(60)
    assert await spoke.poll() == []


async def test_work_stored_by_a_commit_the_hub_saw_fail_is_placed_all_the_same(
    hub, make_spoke, make_spec
):
    """Found from outside (PostgreSQL behind a proxy killed at random): a submission whose
    COMMIT was durable while the hub saw it fail was never queued, its retry found it
    stored (created: false), and it stayed Pending until the hub restarted. After a commit
    whose outcome is unknown, the hub reads its queue from the store again."""
    await make_spoke("s1")
    sub = await hub.submit("k1", make_spec())
    await hub.db.writer.run(lambda conn: hub.queue.discard(sub.workload.id))  # as it was lost
    hub.db.writer.unsure = True  # the connection dropped while that commit was on its way
    again = await hub.submit("k1", make_spec())
    assert not again.created and again.workload.id == sub.workload.id
    report = await hub.tick()
    assert [r.id for r in report.placed] == [sub.workload.id]


async def test_long_poll_wakes_up_on_placement(hub, make_spoke, make_spec):
    spoke = await make_spoke("s1")
    started = time.monotonic()
    waiting = asyncio.create_task(spoke.poll(wait=10))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await hub.submit("k", make_spec())
    await hub.tick()
    items = await asyncio.wait_for(waiting, 5)
    assert len(items) == 1
    assert time.monotonic() - started < 5


async def test_a_spokes_long_polls_are_spaced_and_what_comes_meanwhile_goes_together(
    hub, make_spoke, make_spec, monkeypatch
):
    """Under load a spoke that polled again the instant it was answered took one or two
    workloads a request. Its first poll is answered at once; the next, no sooner than the
    spacing after it, with everything placed meanwhile."""
    monkeypatch.setattr(hub_service, "POLL_SPACING", 2.0)  # far longer than the steps below
    spoke = await make_spoke("s1")
    await hub.submit("k1", make_spec())
    await hub.tick()
    started = time.monotonic()
    assert len(await spoke.poll(wait=10)) == 1
    answered = time.monotonic()
    assert answered - started < 2.0  # the first: no spacing to wait for
    waiting = asyncio.create_task(spoke.poll(wait=10))
    ids = []
    for key in ("k2", "k3"):
        ids.append((await hub.submit(key, make_spec())).workload.id)
        await hub.tick()
    assert not waiting.done()
    items = await asyncio.wait_for(waiting, 10)
    assert sorted(i.workload for i in items) == sorted(ids)  # one answer, not two
    assert time.monotonic() - answered >= 2.0
    # An answer with nothing in it starts a quiet spell: the next is not held back.
    await asyncio.sleep(2.0)
    assert await spoke.poll(wait=0.05) == []
    await hub.submit("k4", make_spec())
    await hub.tick()
    started = time.monotonic()
    assert len(await spoke.poll(wait=10)) == 1
    assert time.monotonic() - started < 2.0


async def test_long_poll_times_out_empty(hub, make_spoke):
    spoke = await make_spoke("s1")
    started = time.monotonic()
    assert await spoke.poll(wait=0.3) == []
    assert 0.25 < time.monotonic() - started < 3


async def test_spread_and_capacity(hub, make_spoke, make_spec):
    await make_spoke("a", cpu=2000)
    await make_spoke("b", cpu=2000)
    for i in range(5):
        await hub.submit(f"k{i}", make_spec(resources=Resources(cpu="1")))
    await hub.tick()
    spokes = {s.name: s for s in (await hub.spokes()).items}
    assert spokes["a"].allocated.cpu_millis == 2000 and spokes["b"].allocated.cpu_millis == 2000
    assert spokes["a"].running == 2
    assert len((await hub.list_workloads(ListQuery(state=P))).items) == 1


async def test_gpu_work_goes_to_gpu_spokes(hub, make_spoke, make_spec):
    await make_spoke("cpu1")
    await make_spoke("gpu1", gpus=2, labels={"gpu": "true"})
    sub = await hub.submit(
        "k",
        make_spec(resources=Resources(gpu=2), selector=Selector(match_labels={"gpu": "true"})),
    )
    await hub.tick()
    assert (await hub.get(sub.workload.id)).spoke == "gpu1"


# ---------------------------------------------------------------- reports


async def test_full_run_and_retry_on_failure(hub, make_spoke, make_spec):
    spoke = await make_spoke("s1")
    wl = await running_on(hub, spoke, make_spec, retry=RetryPolicy(max_retries=1))
    assert wl.state is R
    await spoke.report(wl.id, 1, EventType.FAILED, exit_code=2)
    wl = await hub.get(wl.id)
    assert (wl.state, wl.retries_used) == (P, 1)
    await hub.tick()
    wl = await hub.get(wl.id)
    assert (wl.state, wl.generation) == (A, 2)
    await spoke.report(wl.id, 2, EventType.STARTED)
    await spoke.report(wl.id, 2, EventType.SUCCEEDED, exit_code=0)
    wl = await hub.get(wl.id)
    assert wl.state is WorkloadState.SUCCEEDED
    assert [a.state for a in wl.attempts] == [WorkloadState.FAILED, WorkloadState.SUCCEEDED]


async def test_duplicate_seqs_are_ignored(hub, make_spoke, make_spec):
    spoke = await make_spoke("s1")
    wl = await running_on(hub, spoke, make_spec, retry=RetryPolicy(max_retries=3))
    failed = spoke.event(wl.id, 1, EventType.FAILED, exit_code=1)
    first = await spoke.send(failed)
    assert (first.acked_through, first.duplicates, first.refused) == (failed.seq, 0, [])
    again = await spoke.send(failed)  # the ack was lost; the outbox sends it again
    assert (again.acked_through, again.duplicates) == (failed.seq, 1)
    assert (await hub.get(wl.id)).retries_used == 1


async def test_a_batch_applies_in_seq_order(hub, make_spoke, make_spec):
    spoke = await make_spoke("s1")
    sub = await hub.submit("k", make_spec())
    await hub.tick()
    wid = sub.workload.id
    started = spoke.event(wid, 1, EventType.STARTED)
    done = spoke.event(wid, 1, EventType.SUCCEEDED, exit_code=0)
    ack = await spoke.send(done, started)  # out of order in the body
    assert ack.acked_through == done.seq and ack.refused == []
    wl = await hub.get(wid)
    assert wl.state is WorkloadState.SUCCEEDED and wl.attempts[0].started_at is not None


async def test_reports_about_other_spokes_work_are_refused(hub, make_spoke, make_spec):
    s1 = await make_spoke("s1", cpu=1000)
    s2 = await make_spoke("s2", cpu=100)
    wl = await running_on(hub, s1, make_spec, resources=Resources(cpu="1"))
    ack = await s2.report(wl.id, 1, EventType.SUCCEEDED)
    assert ack.refused == [ack.acked_through]
    assert (await hub.get(wl.id)).state is R
    junk = await s2.report("../etc/passwd\x00", 1, EventType.STARTED)
    assert junk.refused == [junk.acked_through]


async def test_rejected_work_moves_to_another_spoke(hub, make_spoke, make_spec):
    s1 = await make_spoke("s1")
    sub = await hub.submit("k", make_spec())
    await hub.tick()
    await s1.report(sub.workload.id, 1, EventType.REJECTED, message="no room after all")
    s2 = await make_spoke("s2")
    await hub.tick()
    wl = await hub.get(sub.workload.id)
    assert (wl.spoke, wl.generation, wl.retries_used) == (s2.name, 2, 0)


async def test_telemetry_is_kept_for_own_work_only(hub, make_spoke, make_spec):
    s1 = await make_spoke("s1", cpu=1000)
    s2 = await make_spoke("s2", cpu=100)
    wl = await running_on(hub, s1, make_spec, resources=Resources(cpu="1"))
    now = s1.event(wl.id, 1, EventType.ACCEPTED).at
    points = [
        TelemetryPoint(
            seq=next(s1.seq),
            at=now,
            workload=wl.id,
            generation=1,
            metrics={"loss": 0.5, "bad": float("nan")},
        ),
        TelemetryPoint(seq=next(s1.seq), at=now, metrics={"running": 1}),
    ]
    ack = await s1.send(telemetry=points)
    assert ack.refused == []
    foreign = TelemetryPoint(
        seq=next(s2.seq), at=now, workload=wl.id, generation=1, metrics={"x": 1}
    )
    assert (await s2.send(telemetry=[foreign])).refused == [foreign.seq]
    series = await hub.telemetry(TelemetryQuery(workload=wl.id))
    assert len(series) == 1 and series[0].spoke == "s1"
    assert series[0].points[0].metrics == {"loss": 0.5}
    spoke_series = await hub.telemetry(TelemetryQuery(spoke="s1"))
    assert {s.workload for s in spoke_series} == {wl.id, None}


# ---------------------------------------------------------------- cancel


async def test_cancel_pending(hub, make_spec):
    sub = await hub.submit("k", make_spec())
    wl = await hub.cancel(sub.workload.id)
    assert wl.state is WorkloadState.CANCELLED
    with pytest.raises(Conflict, match="already ended"):
        await hub.cancel(wl.id)


@pytest.mark.parametrize("started", [False, True])
async def test_cancel_reaches_the_spoke(hub, make_spoke, make_spec, started):
    spoke = await make_spoke("s1")
    sub = await hub.submit("k", make_spec())
    await hub.tick()
    wid = sub.workload.id
    await spoke.poll()
    if started:
        await spoke.report(wid, 1, EventType.STARTED)
    waiting = asyncio.create_task(spoke.poll(wait=10))
    await asyncio.sleep(0.05)
    wl = await hub.cancel(wid)
    assert wl.cancel_requested and wl.state is (R if started else A)
    items = await asyncio.wait_for(waiting, 5)
    assert [(i.workload, i.cancel) for i in items] == [(wid, True)]
    await spoke.report(wid, 1, EventType.CANCELLED)
    assert (await hub.get(wid)).state is WorkloadState.CANCELLED


# ---------------------------------------------------------------- deadlines and explain


async def test_pending_deadline_expires(hub, make_spec, clock):
    sub = await hub.submit("k", make_spec(pending_deadline_seconds=10))
    clock.advance(9)
    await hub.tick()
    assert (await hub.get(sub.workload.id)).state is P
    clock.advance(1)
    report = await hub.tick()
    assert [r.id for r in report.expired] == [sub.workload.id]
    wl = await hub.get(sub.workload.id)
    assert (wl.state, wl.reason) == (WorkloadState.EXPIRED, "PendingDeadlineExceeded")


async def test_explain_says_why_it_waits(hub, make_spoke, make_spec):
    await make_spoke("cpu1")
    await make_spoke("gpu1", gpus=1, labels={"gpu": "true"})
    first = await hub.submit("k0", make_spec(priority=5))
    await hub.tick()
    sub = await hub.submit(
        "k1",
        make_spec(
            resources=Resources(gpu=2),
            selector=Selector(match_labels={"gpu": "true"}),
            pending_deadline_seconds=600,
        ),
    )
    await hub.submit("k2", make_spec(resources=Resources(gpu=8)))
    await hub.tick()
    ex = await hub.explain(sub.workload.id)
    assert (ex.state, ex.queue_position, ex.queue_length) == (P, 1, 2)
    verdicts = {v.spoke: v for v in ex.considered}
    assert verdicts["cpu1"].reasons == [
        "label gpu=true does not match (gpu not set)",
        "needs 2 GPUs, 0 free (0 in all: it never fits here)",
    ]
    assert verdicts["gpu1"].reasons == ["needs 2 GPUs, 1 free (1 in all: it never fits here)"]
    assert "gives up in 600s" in ex.summary
    settled = await hub.explain(first.workload.id)
    assert settled.state is A and "leased to spoke" in settled.summary


# ---------------------------------------------------------------- spoke health


async def test_transient_blip_does_not_reroute(hub, make_spoke, make_spec, clock):
    s1 = await make_spoke("s1", cpu=1000)
    s2 = await make_spoke("s2", cpu=1000)
    s3 = await make_spoke("s3", cpu=1000)
    wl = await running_on(hub, s1, make_spec, resources=Resources(cpu="1"))
    await keep_alive(clock, hub, 12, s2, s3)  # s1 misses six heartbeats
    spokes = {s.name: s.health for s in (await hub.spokes()).items}
    assert spokes["s1"] is SpokeHealth.NOT_READY
    after = await hub.get(wl.id)
    assert (after.state, after.spoke, after.generation) == (R, "s1", 1)
    assert await s2.poll() == [] and await s3.poll() == []
    beat = await s1.beat(held=[(wl.id, 1)])
    assert beat.health is SpokeHealth.READY and beat.stop == []


async def test_lost_spoke_work_is_rerouted_and_retried(hub, make_spoke, make_spec, clock):
    s1 = await make_spoke("s1", cpu=3000)
    s2 = await make_spoke("s2", cpu=100)
    s3 = await make_spoke("s3", cpu=100)
    unstarted_sub = await hub.submit("u", make_spec(resources=Resources(cpu="1")))
    await hub.tick()
    retried = await running_on(
        hub, s1, make_spec, resources=Resources(cpu="1"), retry=RetryPolicy(max_retries=1)
    )
    doomed = await running_on(hub, s1, make_spec, resources=Resources(cpu="1"))
    s4 = await make_spoke("s4", cpu=4000)  # room for the re-routed work

    await keep_alive(clock, hub, 28, s2, s3, s4)
    assert (await hub.get(retried.id)).spoke == "s1"  # 28 s of silence: not yet
    await keep_alive(clock, hub, 2, s2, s3, s4)  # 30 s: Lost, re-routed in the same pass

    unstarted = await hub.get(unstarted_sub.workload.id)
    assert (unstarted.state, unstarted.spoke, unstarted.generation, unstarted.retries_used) == (
        A,
        "s4",
        2,
        0,
    )
    moved = await hub.get(retried.id)
    assert (moved.state, moved.spoke, moved.generation, moved.retries_used) == (A, "s4", 2, 1)
    failed = await hub.get(doomed.id)
    assert (failed.state, failed.reason) == (WorkloadState.FAILED, "SpokeLost")
    health = {s.name: s.health for s in (await hub.spokes()).items}
    assert health["s1"] is SpokeHealth.LOST

    # The old spoke comes back: its copies are fenced.
    ack = await s1.report(retried.id, 1, EventType.SUCCEEDED)
    assert ack.refused == [ack.acked_through]
    beat = await s1.beat(held=[(retried.id, 1), (doomed.id, 1)])
    assert beat.health is SpokeHealth.READY
    assert {(h.workload, h.generation) for h in beat.stop} == {(retried.id, 1), (doomed.id, 1)}
    assert await s1.poll() == []
    assert (await hub.get(retried.id)).spoke == "s4"


async def test_cancel_requested_work_on_a_lost_spoke_is_cancelled(
    hub, make_spoke, make_spec, clock
):
    s1 = await make_spoke("s1")
    wl = await running_on(hub, s1, make_spec)
    await hub.cancel(wl.id)
    await keep_alive(clock, hub, 31)
    assert (await hub.get(wl.id)).state is WorkloadState.CANCELLED


async def test_hub_restart_does_not_declare_everyone_lost(hubs, hub, make_spoke, make_spec, clock):
    s1 = await make_spoke("s1")
    s2 = await make_spoke("s2")
    wl = await running_on(hub, s1, make_spec)
    clock.advance(3600)  # the hub is down for an hour
    hub2 = await hubs.restart(hub)
    s1.hub = s2.hub = hub2
    clock.advance(20)
    await hub2.tick()
    assert (await hub2.get(wl.id)).state is R
    health = {s.name: s.health for s in (await hub2.spokes()).items}
    assert health == {"s1": SpokeHealth.NOT_READY, "s2": SpokeHealth.NOT_READY}
    beat = await s1.beat(held=[(wl.id, 1)])
    assert beat.stop == [] and beat.health is SpokeHealth.READY
    await s2.beat()
    await keep_alive(clock, hub2, 40, s1, s2)
    assert (await hub2.get(wl.id)).state is R


async def test_after_a_restart_a_silent_spoke_is_lost_after_a_full_window(
    hubs, hub, make_spoke, make_spec, clock
):
    s1 = await make_spoke("s1")
    wl = await running_on(hub, s1, make_spec)
    clock.advance(3600)
    hub2 = await hubs.restart(hub)
    clock.advance(29)
    await hub2.tick()
    assert (await hub2.get(wl.id)).state is R
    clock.advance(1)
    await hub2.tick()
    assert (await hub2.get(wl.id)).state is WorkloadState.FAILED


async def test_disruption_guard(hub, make_spoke, make_spec, clock):
    s1 = await make_spoke("s1", cpu=1000)
    s2 = await make_spoke("s2", cpu=1000)
    s3 = await make_spoke("s3", cpu=1000)
    for s in (s1, s2, s3):
        await s.beat()  # working spokes: they count toward the guard
    w1 = await running_on(hub, s1, make_spec, resources=Resources(cpu="1"))
    w2 = await running_on(hub, s2, make_spec, resources=Resources(cpu="1"))
    await keep_alive(clock, hub, 45, s3)  # two of three silent: suspect the hub's network
    health = {s.name: s.health for s in (await hub.spokes()).items}
    assert health == {
        "s1": SpokeHealth.NOT_READY,
        "s2": SpokeHealth.NOT_READY,
        "s3": SpokeHealth.READY,
    }
    assert (await hub.get(w1.id)).state is R and (await hub.get(w2.id)).state is R
    assert "kindfleet_hub_disruption_guard 1.0" in hub.metrics.render().decode()
    guard = (await hub.spokes()).guard
    assert guard is not None and guard.active and guard.held == ["s1", "s2"]
    assert "2 of 3 working spokes are silent" in (guard.reason or "")
    await s2.beat()  # one comes back: one silent of three is a real loss
    await hub.tick()
    assert (await hub.get(w1.id)).state is WorkloadState.FAILED
    assert (await hub.get(w2.id)).state is R


# ---------------------------------------------------------------- credentials and restarts


async def test_data_and_credentials_survive_a_restart(hubs, hub, make_spoke, make_spec):
    spoke = await make_spoke("s1")
    sub = await hub.submit("k", make_spec())
    hub2 = await hubs.restart(hub)
    assert (await hub2.get(sub.workload.id)).id == sub.workload.id
    who = hub2.identify(f"Bearer {spoke.credential}")
    assert (who.kind, who.spoke) == ("spoke", "s1")
    again = await hub2.submit("k", make_spec())
    assert not again.created


async def test_phantom_spokes_cannot_switch_off_loss_detection(hub, make_spoke, make_spec, clock):
    """Spokes that register and never heartbeat do not count: a real spoke that stops is
    Lost at its window and its work placed again (issue 9, part 2)."""
    for i in range(5):
        await make_spoke(f"phantom{i}", cpu=1000)
    real = await make_spoke("real", cpu=1000, labels={"pool": "real"})
    await real.beat()
    work = await running_on(
        hub,
        real,
        make_spec,
        resources=Resources(cpu="1"),
        selector={"match_labels": {"pool": "real"}},
        retry=RetryPolicy(max_retries=1),
    )
    other = await make_spoke("other", cpu=1000, labels={"pool": "real"})
    await other.beat()
    await keep_alive(clock, hub, 30, other)
    moved = await hub.get(work.id)
    assert moved.spoke == "other" and moved.state is WorkloadState.ASSIGNED
    assert not (await hub.spokes()).guard.active


async def test_reregistering_revokes_the_old_credential(hub, make_spoke, driver, clock):
    first = await make_spoke("s1")
    clock.advance(7)  # its lease ran out: a join token for the name may register it again
    second = await driver(hub, "s1").register()
    assert second.credential != first.credential
    with pytest.raises(Gone, match="registered again by another agent"):
        hub.identify(f"Bearer {first.credential}")
    assert hub.identify(f"Bearer {second.credential}").spoke == "s1"


async def test_a_new_agent_under_a_known_name_moves_what_the_old_one_was_handed(
    hub, make_spoke, make_spec, driver, clock
):
    """Found from outside: an agent died with its state directory, a new one joined under
    the same name and heartbeat holding nothing, and the old one's Running work stayed
    Running for ever (nobody could report it; the name never went Lost)."""
    s1 = await make_spoke("s1")
    ran = await running_on(hub, s1, make_spec, retry=RetryPolicy(max_retries=2))
    handed = await hub.submit("handed", make_spec())
    await hub.tick()
    assert (await hub.get(handed.workload.id)).state is A
    clock.advance(7)  # the lease ran out: the name may be joined again
    again = await driver(hub, "s1").register()
    retried, requeued = await hub.get(ran.id), await hub.get(handed.workload.id)
    assert (retried.state, retried.retries_used) == (P, 1)
    assert retried.attempts[-1].reason == "SpokeReplaced"
    assert "joined again by a new agent" in (retried.message or "")
    assert (requeued.state, requeued.retries_used) == (P, 0)
    await again.beat()
    await hub.tick()  # placed again, on the new agent: generation 2, not the old copies
    assert {(w.workload, w.generation) for w in await again.poll()} == {
        (ran.id, 2),
        (handed.workload.id, 2),
    }


async def test_a_new_agent_waits_while_the_old_one_may_run_exclusive_work(
    hub, make_spoke, make_spec, driver, clock
):
    """Exclusive work is never moved before its lease has passed in silence: a new agent
    under the name is refused (409, saying why) until the hub has moved it."""
    s1 = await make_spoke("s1")
    wl = await running_on(
        hub, s1, make_spec, mode="exclusive", lease_seconds=50, retry=RetryPolicy(max_retries=1)
    )
    clock.advance(7)
    with pytest.raises(Conflict, match=f"exclusive work it may still be running \\({wl.id}\\)"):
        await driver(hub, "s1").register()
    assert (await hub.get(wl.id)).state is R
    await keep_alive(clock, hub, 50)  # Lost, and the whole lease in silence: moved
    assert (await hub.get(wl.id)).state is P
    await driver(hub, "s1").register()


async def test_the_fleet_token_cannot_take_an_approved_spokes_name(hubs, driver, make_spec, clock):
    """Found from outside: a name joined with a join token held work; a stranger with the
    fleet token joined it again once its lease ran out (awaiting approval) and its poll got
    the work, secrets in its env included. Then (that fixed) the stranger still replaced the
    spoke's credential: the spoke's agent, back, was locked out. Now it is refused."""
    hub = await hubs.start(fleet_token=BOOTSTRAP_TOKEN)
    s1 = await driver(hub, "s1").register()
    sub = await hub.submit("secret", make_spec(env={"DB_PASSWORD": "hunter2"}))
    await hub.tick()
    assert (await hub.get(sub.workload.id)).spoke == "s1"
    clock.advance(7)
    fleet = hub.identify(f"Bearer {BOOTSTRAP_TOKEN}")
    with pytest.raises(Conflict, match="the fleet token cannot take its name"):
        await hub.register(
            fleet, RegisterRequest(name="s1", capacity=s1.capacity, executor="process")
        )
    assert hub.identify(f"Bearer {s1.credential}").spoke == "s1"  # not locked out
    await s1.beat()
    assert [i.workload for i in (await hub.poll("s1", 0)).items] == [sub.workload.id]


async def test_a_fleet_token_agent_whose_answer_was_lost_is_taken_back(hubs, driver, clock):
    """Found from outside: an agent joined with the fleet token and the credential it chose,
    the answer was lost (or the agent died before it kept it), and an operator approved the
    spoke meanwhile: every retry was refused for good (409, live, then approved), while the
    credential it holds worked. Knowing the credential is being the spoke: its own retry."""
    hub = await hubs.start(fleet_token=BOOTSTRAP_TOKEN)
    fleet = hub.identify(f"Bearer {BOOTSTRAP_TOKEN}")
    chosen = "own-credential-" + "x" * 32
    req = RegisterRequest(
        name="s1", capacity=driver(hub, "s1").capacity, executor="process", credential=chosen
    )
    await hub.register(fleet, req)  # its answer lost
    await hub.approve("s1")
    again = await hub.register(fleet, req)  # at once, within the lease
    assert again.approved and again.credential == chosen
    clock.advance(60)  # and once the lease has run out
    again = await hub.register(fleet, req)
    assert again.approved and hub.identify(f"Bearer {chosen}").spoke == "s1"
    stranger = req.model_copy(update={"credential": "a-stranger-" + "y" * 32})
    clock.advance(60)
    with pytest.raises(Conflict, match="the fleet token cannot take its name"):
        await hub.register(fleet, stranger)
    assert hub.identify(f"Bearer {chosen}").spoke == "s1"


async def test_approving_a_name_approves_the_spoke_that_took_it(hubs, driver, make_spec, clock):
    """Found from outside: once a spoke awaiting approval had let its lease run out, a
    stranger with the fleet token registered the name again, and the operator's approval
    of the name (meant for the spoke they had seen) approved the stranger, who then got
    work. The name is now the first registrant's until an operator removes it."""
    hub = await hubs.start(fleet_token=BOOTSTRAP_TOKEN)
    fleet = hub.identify(f"Bearer {BOOTSTRAP_TOKEN}")
    capacity = driver(hub, "s9").capacity
    first = await hub.register(
        fleet, RegisterRequest(name="s9", capacity=capacity, executor="process")
    )
    clock.advance(60)
    stranger = RegisterRequest(
        name="s9", capacity=capacity, executor="process", credential="a-stranger-" + "y" * 32
    )
    with pytest.raises(Conflict, match=r"awaiting approval.*kindfleet spokes remove s9"):
        await hub.register(fleet, stranger)
    with pytest.raises(Unauthorized):
        hub.identify(f"Bearer {stranger.credential}")
    await hub.approve("s9")
    assert hub.identify(f"Bearer {first.credential}").spoke == "s9"
    await driver(hub, "s9").beat()  # the first registrant's agent, back
    sub = await hub.submit("for-s9", make_spec())
    await hub.tick()
    assert (await hub.get(sub.workload.id)).spoke == "s9"
    await hub.remove("s9", force=True)  # the way to give the name to someone else
    again = await hub.register(fleet, stranger)
    assert not again.approved


async def test_a_credential_taken_back_is_told_so_not_just_refused(hubs, driver, clock):
    """A removed spoke's credential, and one a new agent's registration replaced, answer
    410 naming the spoke and why (its agent then stops what it runs), also after a restart;
    an unknown token is still 401. Found from outside: a removed spoke's agent, cut off
    meanwhile, heard only 401 and ran its moved work on beside the new copy."""
    hub = await hubs.start()
    s1, s2 = await driver(hub, "s1").register(), await driver(hub, "s2").register()
    await hub.remove("s1")
    with pytest.raises(Gone, match=r"spoke s1 was removed by an operator.*spokes token s1"):
        hub.identify(f"Bearer {s1.credential}")
    old = s2.credential
    clock.advance(60)  # s2's lease runs out; a new agent joins under its name
    new = await driver(hub, "s2").register()
    with pytest.raises(Gone, match="spoke s2 was registered again by another agent"):
        hub.identify(f"Bearer {old}")
    assert hub.identify(f"Bearer {new.credential}").spoke == "s2"
    hub = await hubs.restart(hub)
    for credential in (s1.credential, old):
        with pytest.raises(Gone):
            hub.identify(f"Bearer {credential}")
    with pytest.raises(Unauthorized):
        hub.identify("Bearer never-a-credential-of-this-hub")
    again = await driver(hub, "s1").register()  # the name joins again, as a new spoke
    assert hub.identify(f"Bearer {again.credential}").spoke == "s1"


@pytest.mark.parametrize("how", ["removed", "replaced"])
async def test_a_request_whose_credential_was_taken_back_while_it_waited_is_refused(
    hubs, driver, make_spec, clock, how
):
    """Found from outside: a report authenticated with a credential that was taken back
    before its body arrived was applied to the new agent under the name (a `succeeded`
    ended the new copy's workload, its seq moved the new spoke's mark), and a long poll
    waiting across a removal was handed the next agent's work. Each is checked again on
    the writer with the credential it came with."""
    hub = await hubs.start()
    old = await driver(hub, "s1").register()
    digest = token_hash(old.credential)
    sub = await hub.submit("w", make_spec())
    clock.advance(60)  # the old agent is cut off: its lease runs out
    if how == "removed":
        await hub.remove("s1", force=True)
    new = await driver(hub, "s1").register()
    await hub.tick()
    [item] = await new.poll()
    await new.report(item.workload, item.generation, EventType.STARTED)
    event = old.event(item.workload, item.generation, EventType.SUCCEEDED, exit_code=0)
    with pytest.raises(
        Gone, match=f"spoke s1 was {'removed' if how == 'removed' else 'registered again'}"
    ):
        await hub.ingest("s1", EventBatch(events=[event]), digest)
    with pytest.raises(Gone):
        await hub.heartbeat("s1", HeartbeatRequest(capacity=old.capacity), digest)
    other = await hub.submit("w2", make_spec())
    await hub.tick()
    with pytest.raises(Gone):  # the new agent's work is not handed to the old credential
        await hub.poll("s1", 0, digest)
    wl = await hub.get(sub.workload.id)
    assert (wl.state, wl.generation) == (R, item.generation)  # the new copy runs on
    assert [i.workload for i in await new.poll()] == [other.workload.id]
    done = new.event(item.workload, item.generation, EventType.SUCCEEDED, exit_code=0)
    ack = await new.send(done)
    assert ack.acked_through == done.seq  # the new spoke's own count, untouched by the old
    assert (await hub.get(sub.workload.id)).state is WorkloadState.SUCCEEDED


async def test_a_rotation_or_a_request_of_a_removed_spoke_waiting_on_a_taken_back_credential_is_410(
    hubs, driver, clock
):
    """Found from outside: a rotation authenticated with a credential that a new agent's
    registration then replaced went through and locked the new agent out; and a request of
    a removed spoke that waited across the removal got 401, which its agent takes for a
    credential to replace, not for runs to stop."""
    hub = await hubs.start()
    s1, s2 = await driver(hub, "s1").register(), await driver(hub, "s2").register()
    rotation = hub.identify(f"Bearer {s1.credential}")
    clock.advance(60)
    new = await driver(hub, "s1").register()  # replaces s1's credential meanwhile
    req = RegisterRequest(name="s1", capacity=s1.capacity, executor="process", credential="c" * 40)
    with pytest.raises(Gone, match="registered again by another agent"):
        await hub.register(rotation, req)
    assert hub.identify(f"Bearer {new.credential}").spoke == "s1"  # not locked out
    old = token_hash(s2.credential)
    await hub.remove("s2", force=True)
    with pytest.raises(Gone, match="removed by an operator"):
        await hub.heartbeat("s2", HeartbeatRequest(capacity=s2.capacity), old)
    with pytest.raises(Gone, match="removed by an operator"):
        await hub.ingest("s2", EventBatch(), old)


async def test_a_spoke_awaiting_approval_is_handed_nothing(hubs, driver, make_spec, clock):
    """A name the fleet token registered (awaiting approval) is never placed on, until an
    operator approves it."""
    hub = await hubs.start(fleet_token=BOOTSTRAP_TOKEN)
    fleet = hub.identify(f"Bearer {BOOTSTRAP_TOKEN}")
    capacity = driver(hub, "s9").capacity
    joined = await hub.register(
        fleet, RegisterRequest(name="s9", capacity=capacity, executor="process")
    )
    assert not joined.approved
    sub = await hub.submit("secret", make_spec(env={"DB_PASSWORD": "hunter2"}))
    await hub.tick()
    assert (await hub.poll("s9", 0)).items == []
    assert (await hub.get(sub.workload.id)).state is P
    await hub.approve("s9")
    await hub.tick()
    assert [i.workload for i in (await hub.poll("s9", 0)).items] == [sub.workload.id]


@pytest.mark.parametrize("whose", ["another spoke's", "the client's"])
async def test_a_rotation_cannot_take_another_token(hub, make_spoke, whose):
    """A spoke that re-registers with its credential may choose a new one, but not one in
    use: taking another spoke's made that spoke's every request the first one's (its agent
    locked out for good, its join token spent); the client's token is nobody's to take."""
    sa, sb = await make_spoke("sa"), await make_spoke("sb")
    wanted = sb.credential if whose == "another spoke's" else CLIENT_TOKEN
    assert sa.credential is not None and wanted is not None
    rotate = RegisterRequest(name="sa", capacity=sa.capacity, executor="process", credential=wanted)
    with pytest.raises(Invalid, match="choose another credential"):
        await hub.register(hub.identify(f"Bearer {sa.credential}"), rotate)
    assert hub.identify(f"Bearer {sb.credential}").spoke == "sb"
    assert hub.identify(f"Bearer {CLIENT_TOKEN}").spoke is None
    await sb.beat()  # still sb's own
    own = rotate.model_copy(update={"credential": sa.credential})  # its own: a no-op rotation
    await hub.register(hub.identify(f"Bearer {sa.credential}"), own)
    assert hub.identify(f"Bearer {sa.credential}").spoke == "sa"


async def test_two_registrations_at_once_cannot_share_a_credential(hub, make_spoke):
    """Both passed the check before either committed, and the second to commit took the
    credential from the first (its every request then the other's)."""
    sa = await make_spoke("sa")
    assert sa.credential is not None
    wanted = "x" * 40
    rotate = RegisterRequest(name="sa", capacity=sa.capacity, executor="process", credential=wanted)
    token = await hub.mint_join_token("sb", None)
    join = RegisterRequest(name="sb", capacity=sa.capacity, executor="process", credential=wanted)
    results = await asyncio.gather(
        hub.register(hub.identify(f"Bearer {sa.credential}"), rotate),
        hub.register(hub.identify(f"Bearer {token.token}"), join),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    assert len(won) == 1 and isinstance(next(r for r in results if r not in won), Invalid)
    assert hub.identify(f"Bearer {wanted}").spoke == won[0].spoke


# ---------------------------------------------------------------- hostile text


async def test_nul_and_odd_text_never_reach_the_store_raw(hub, make_spoke, make_spec, driver):
    """PostgreSQL refuses NUL in text, and a process cannot take it in an argument or the
    environment: a spec holding one is refused (422), what a spoke sends is cleaned."""
    for bad in ({"labels": {"team": "a\x00b"}}, {"env": {"A": "x\x00y"}}, {"command": ["a\x00"]}):
        with pytest.raises(pydantic.ValidationError):
            make_spec(**bad)
    with pytest.raises(Invalid):
        await hub.submit("k\x00key", make_spec())
    ok = await hub.submit("k-key", make_spec(env={"A": "x\ny"}, command=["a"]))
    assert (await hub.get(ok.workload.id)).spec.env == {"A": "x\ny"}
    spoke = await driver(hub, "s1").register()
    await hub.tick()
    ack = await spoke.report(
        ok.workload.id, 1, EventType.REJECTED, reason="bad\x00", message="no\x00room"
    )
    assert ack.refused == []
    assert "\x00" not in ((await hub.get(ok.workload.id)).message or "")
    now = spoke.event(ok.workload.id, 1, EventType.ACCEPTED).at
    ack = await spoke.send(
        telemetry=[TelemetryPoint(seq=next(spoke.seq), at=now, metrics={"a\x00": 1})]
    )
    assert ack.refused == []
    with pytest.raises(Invalid):
        await hub.telemetry(TelemetryQuery(workload="wl-\x00"))
    from kindfleet.platform.hub.service.reads import parse_list_query

    with pytest.raises(Invalid):
        parse_list_query(limit=1, cursor=None, state=None, spoke=None, labels=["a=\x00"])


async def test_an_acknowledged_assignment_the_spoke_no_longer_holds_is_sent_again(
    hub, make_spoke, make_spec
):
    """A spoke listed an accept in its heartbeat before writing it down, then died (or its
    disk refused the write): it comes back without it. Seen with a real agent on a full
    disk: the work sat Assigned on a Ready spoke for ever, as acknowledged work is never
    sent again."""
    spoke = await make_spoke("s1")
    sub = await hub.submit("k", make_spec())
    await hub.tick()
    wid = sub.workload.id
    assert [i.workload for i in await spoke.poll()] == [wid]
    await spoke.beat(held=[(wid, 1)])  # holding it acknowledges it
    assert await spoke.poll() == []
    await spoke.beat(held=[])  # the spoke came back without it
    assert [(i.workload, i.generation) for i in await spoke.poll()] == [(wid, 1)]
    await spoke.beat(held=[(wid, 1)])  # it holds it again: acknowledged again
    assert await spoke.poll() == []
    await spoke.beat(held=[(wid, 2)])  # a copy of another generation is not this one
    assert [i.workload for i in await spoke.poll()] == [wid]
    await spoke.report(wid, 1, EventType.ACCEPTED)
    await spoke.report(wid, 1, EventType.STARTED)
    await spoke.beat(held=[])  # running work is not redelivered (nor touched here)
    assert await spoke.poll() == []
    assert (await hub.get(wid)).state is WorkloadState.RUNNING


async def test_a_spoke_that_offers_no_capacity_gets_no_new_work(hub, make_spoke, make_spec):
    """What an agent whose disk refuses writes does (it could not accept the work): the
    hub places around it, and on it again once it offers its capacity again."""
    spoke = await make_spoke("s1")
    full = spoke.capacity
    spoke.capacity = Capacity(cpu_millis=0, memory_bytes=0, gpus=0)
    await spoke.beat()
    sub = await hub.submit("k", make_spec())
    await hub.tick()
    assert (await hub.get(sub.workload.id)).state is P
    spoke.capacity = full
    await spoke.beat()
    await hub.tick()
    assert (await hub.get(sub.workload.id)).state is A


# ---------------------------------------------------------------- removal


async def test_removing_a_spoke_moves_only_work_it_was_never_handed(
    hub, make_spoke, make_spec, clock
):
    """A plain removal is refused while the spoke may be running work: started, or sent
    and accepted (its agent starts it before `started` reaches the hub), whether the spoke
    is live or silent but not Lost: the hub gave that work to a second spoke while the
    first ran it (a partition looks the same as a stopped agent)."""
    s1 = await make_spoke("s1", cpu=1000)
    sub = await hub.submit("accepted", make_spec(resources=Resources(cpu="1")))
    await hub.tick()
    [item] = await s1.poll()
    await s1.report(item.workload, item.generation, EventType.ACCEPTED)
    with pytest.raises(Conflict, match="s1 is live and may be running 1 workload"):
        await hub.remove("s1")
    await keep_alive(clock, hub, 10)  # silent: NotReady, not Lost
    assert {s.name: s.health for s in (await hub.spokes()).items}["s1"] is SpokeHealth.NOT_READY
    with pytest.raises(Conflict, match="s1 is silent and may still be running 1"):
        await hub.remove("s1")
    wl = await hub.get(sub.workload.id)
    assert (wl.state, wl.spoke, wl.generation) == (A, "s1", 1)

    removed = await hub.remove("s1", force=True)  # the operator knows it is stopped
    assert removed.requeued == [wl.id]


async def test_a_heartbeat_older_than_an_accept_does_not_let_a_removal_through(
    hub, make_spoke, make_spec
):
    """Found from outside: a heartbeat the agent built before it accepted its work, arriving
    after the `accepted` report, listed nothing; the hub took the work for not received, and
    a plain removal of the live spoke went through while it ran the work (moved elsewhere)."""
    s1 = await make_spoke("s1", cpu=1000)
    sub = await hub.submit("late-beat", make_spec(resources=Resources(cpu="1")))
    await hub.tick()
    [item] = await s1.poll()
    await s1.report(item.workload, item.generation, EventType.ACCEPTED)
    await s1.beat(held=[])  # built before the accept, arriving after it
    with pytest.raises(Conflict, match="s1 is live and may be running 1 workload"):
        await hub.remove("s1")
    assert [i.workload for i in await s1.poll()] == [sub.workload.id]  # sent again at once
    wl = await hub.get(sub.workload.id)
    assert (wl.state, wl.spoke, wl.generation) == (A, "s1", 1)


async def test_a_spoke_whose_work_was_never_sent_is_removed_at_once(hub, make_spoke, make_spec):
    await make_spoke("s1", cpu=1000)
    sub = await hub.submit("unsent", make_spec(resources=Resources(cpu="1")))
    await hub.tick()
    assert (await hub.get(sub.workload.id)).spoke == "s1"
    removed = await hub.remove("s1")
    assert removed.requeued == [sub.workload.id]
    assert (await hub.get(sub.workload.id)).state is P


async def test_removal_does_not_cut_an_exclusive_lease_short(hub, make_spoke, make_spec, clock):
    """Exclusive work is placed again only after its whole lease in silence: a plain
    removal of its Lost spoke is refused until then, and after it the work has moved."""
    s1 = await make_spoke("s1")
    wl = await running_on(
        hub, s1, make_spec, mode="exclusive", lease_seconds=50, retry=RetryPolicy(max_retries=1)
    )
    s2 = await make_spoke("s2")
    await keep_alive(clock, hub, 32, s2)  # Lost; its exclusive work waits for its lease
    with pytest.raises(Conflict, match=r"1 exclusive: each once its lease has passed"):
        await hub.remove("s1")
    assert (await hub.get(wl.id)).spoke == "s1"
    await keep_alive(clock, hub, 18, s2)  # 50 s: moved by the hub itself
    assert (await hub.get(wl.id)).spoke == "s2"
    removed = await hub.remove("s1")
    assert removed.requeued == removed.retried == []
