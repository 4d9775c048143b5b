"""Exclusive work under a partition, for real (issue 18): the hub and the agents as
processes, the agent's link to the hub cut by its proxy (`kindfleet fault partition`) for
twice the lease while it runs an exclusive workload, and the hub killed (-9) and started
again in the middle of it. From the runs' own ledger: the cut-off copy stopped by itself
before the re-run began (never two at once), the work ran again exactly once, and it
finished (nothing lost).

Before the partition, on the same fleet, the hub is frozen (SIGSTOP of its process) for
three loss windows while the spokes keep calling (issue 14): silence the hub could not
hear is no evidence, so no spoke is Lost and nothing moves once it thaws.

The lease is short (the agent's stop grace is its default 5 s, so the spoke stops a run
3.9 s after its last answered heartbeat was sent, and the hub places it again after 10 s
of silence it could hear). Heartbeats go every 0.5 s here, so only a gap of more than
3.4 s between answered heartbeats stops a run that is not cut off. Such a safe stop (a
further attempt) is allowed by the checks; an overlap never is."""

from __future__ import annotations

import itertools
import time

import pytest
from tests.integration.platform.conftest import LOST_AFTER, Drill
from tests.procscan import with_environment

from kindfleet.platform import exclusive
from kindfleet.platform.wire import SpokeHealth, WorkloadState

pytestmark = pytest.mark.slow

LEASE = 10.0
SECONDS = 12.0  # the run's own length: it outlives the freeze and the cut


def test_an_exclusive_run_cut_off_from_its_hub_never_overlaps_its_rerun(drill: Drill):
    assert exclusive.stop_after(LEASE, exclusive.SPOKE_GRACE) >= exclusive.MIN_RUN
    _freeze_the_hub_and_see_nothing_move(drill)
    spec = drill.spec(
        "exclusive-drill",
        SECONDS,
        tick=0.1,  # a sign of life every 0.1 s: an overlap cannot hide
        mode="exclusive",
        lease_seconds=LEASE,
        retry={"max_retries": 2},
    )
    with drill.client() as hub:
        wid = hub.submit(spec).workload.id
    [running] = drill.wait_for([wid], lambda w: w.state is WorkloadState.RUNNING, 60)
    victim = running.spoke
    assert victim is not None
    while not any(r.workload == wid for r in drill.runs()):
        time.sleep(0.05)
    record = drill.fleet.fault("partition", victim)
    cut = time.time()
    try:
        time.sleep(LEASE / 2)
        drill.kill(drill.fleet.spec.hub.name)  # the hub dies in the middle of the partition
        drill.restart_hub()
        time.sleep(max(0.0, cut + 2 * LEASE - time.time()))
    finally:
        drill.fleet.clear_faults([record.id])
    [done] = drill.wait_for([wid], lambda w: w.state.terminal, 90)

    runs = sorted((r for r in drill.runs() if r.workload == wid), key=lambda r: r.generation)
    assert done.state is WorkloadState.SUCCEEDED, (done.state, done.reason, done.message)
    attempts = [(a.generation, a.spoke, a.state.value, a.reason) for a in done.attempts]
    # A heartbeat gap on a starved machine may make a spoke stop a run safely once more
    # (a further attempt): allowed, as long as no two runs ever overlap.
    assert [r.generation for r in runs] == list(range(1, len(runs) + 1)), (runs, attempts)
    assert len(runs) >= 2, (runs, attempts, cut)
    first, last = runs[0], runs[-1]
    assert first.spoke == victim
    assert first.end is None and last.end is not None  # stopped; the last run finished
    assert all(r.end is None for r in runs[:-1]), runs  # every earlier copy was stopped
    for before, after in itertools.pairwise(runs):
        # Each stopped copy's last sign of life came before the next run's first.
        assert before.last < after.start, f"overlap of {before.last - after.start:.2f}s"
    # The cut-off copy stopped by itself, well within its lease of the cut (not at the heal).
    assert first.last - cut < LEASE, f"stopped {first.last - cut:.1f}s after the cut"


def _freeze_the_hub_and_see_nothing_move(drill: Drill) -> None:
    """Autonomous work, and a hub frozen for three loss windows: nothing moves. (Exclusive
    work with this short lease would be stopped by its spoke: a hub silent for longer
    than a lease is the price of exclusive work.)"""
    with drill.client() as hub:
        # it must outlive the freeze on any machine: it is cancelled below, not awaited
        wid = hub.submit(drill.spec("steady", 3 * LOST_AFTER + 120)).workload.id
    drill.wait_for([wid], lambda w: w.state is WorkloadState.RUNNING, 60)
    frozen = drill.fleet.fault("pause", drill.fleet.spec.hub.name)
    try:
        time.sleep(3 * LOST_AFTER)
    finally:
        drill.fleet.clear_faults([frozen.id])
    time.sleep(1.0)  # passes run at once on thawing: any verdict is in by now
    with drill.client() as hub:
        health = {s.name: s.health for s in hub.spokes()}
        workload = hub.get(wid)
        hub.cancel(wid)
    assert set(health.values()) == {SpokeHealth.READY}, health
    assert (workload.state, workload.generation) == (WorkloadState.RUNNING, 1)


def _runs_of(drill: Drill, wid: str) -> list:
    return sorted((r for r in drill.runs() if r.workload == wid), key=lambda r: r.generation)


def test_a_short_hub_outage_stops_nothing_and_a_thawed_spoke_is_fenced(drill: Drill):
    """The two other sides of the lease (issue 18): a hub down (killed, started again) for
    less than an exclusive run's lease stops nothing; a spoke frozen whole (agent, keepers
    and runs: `kindfleet fault pause`) past the lease does nothing while frozen, its work
    runs again elsewhere exactly once, and the frozen copy is stopped by its own agent once
    it thaws, its outcome never counted."""
    long_lease = 30.0  # the spoke stops after ~24 s unanswered: far beyond a hub restart
    with drill.client() as hub:
        calm = hub.submit(
            drill.spec("outage", 10.0, tick=0.1, mode="exclusive", lease_seconds=long_lease)
        ).workload.id
    drill.wait_for([calm], lambda w: w.state is WorkloadState.RUNNING, 60)
    drill.kill(drill.fleet.spec.hub.name)
    time.sleep(2.0)
    drill.restart_hub()
    [done] = drill.wait_for([calm], lambda w: w.state.terminal, 60)
    assert (done.state, done.generation) == (WorkloadState.SUCCEEDED, 1), done
    [run] = _runs_of(drill, calm)
    assert run.end is not None  # ran to its end, once, through the outage

    with drill.client() as hub:
        wid = hub.submit(
            drill.spec("frozen", 6 * LEASE, tick=0.1, mode="exclusive", lease_seconds=LEASE,
                       retry={"max_retries": 2})
        ).workload.id  # fmt: skip
    [running] = drill.wait_for([wid], lambda w: w.state is WorkloadState.RUNNING, 60)
    victim = running.spoke
    while not _runs_of(drill, wid):
        time.sleep(0.05)
    frozen = drill.fleet.fault("pause", victim)
    paused = time.time()
    with drill.client() as hub:  # when the hub last heard it: its silence counts from there
        [heard] = [s.last_heartbeat for s in hub.spokes() if s.name == victim]
    assert heard is not None
    try:
        drill.wait_for([wid], lambda w: w.generation >= 2 and w.spoke != victim, 4 * LEASE)
        while len(_runs_of(drill, wid)) < 2:  # the re-run has begun elsewhere
            time.sleep(0.05)
    finally:
        thawed = time.time()  # the thaw begins (SIGCONT to the tree) after this instant
        drill.fleet.clear_faults([frozen.id])
    # Thawed, the copy's own agent stops it (its lease ran out while frozen): gone within
    # the stop grace, and its spoke heard again, with the work still the re-run's.
    deadline = time.monotonic() + 2 * exclusive.SPOKE_GRACE
    while _copies(wid, 1):
        assert time.monotonic() < deadline, "the thawed copy was never stopped"
        time.sleep(0.1)
    drill.wait_for([wid], lambda w: w.generation >= 2 and w.state is WorkloadState.RUNNING, 30)
    with drill.client() as hub:
        workload = hub.get(wid)
        hub.cancel(wid)
    first, second, *more = _runs_of(drill, wid)
    assert not more and workload.spoke == second.spoke != victim, (workload, first, second)
    assert (first.spoke, first.end) == (victim, None)  # the frozen copy never finished
    assert second.start - heard.timestamp() >= LEASE  # again only after the whole lease
    # Frozen, it did nothing: no sign of life between the freeze and the thaw.
    assert first.last < paused + 0.2 or first.last >= thawed, first.last - paused
    assert workload.attempts[0].spoke == victim and workload.attempts[0].state.terminal


def _copies(workload: str, generation: int) -> list[int]:
    """Live processes of that run: its environment names the workload and generation."""
    return with_environment(
        f"KINDFLEET_WORKLOAD_ID={workload}", f"KINDFLEET_GENERATION={generation}"
    )
