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
