"""Exclusive work under a partition, for real (issue 18): the hub and the agents as
processes, the agent's link to the hub cut by its proxy (`kindfleet fault partition`) for
twice the lease while it runs an exclusive workload, and the hub killed (-9) and started
again in the middle of it. From the runs' own ledger: the cut-off copy stopped by itself
before the re-run began (never two at once), the work ran again exactly once, and it
finished (nothing lost).

The lease is short (the agent's stop grace is its default 5 s, so the spoke stops a run
about 2.4 s after its last answered heartbeat was sent, and the hub places it again
after 8.5 s of silence it could hear)."""

from __future__ import annotations

import time

import pytest
from tests.integration.platform.conftest import Drill

from kindfleet.platform import exclusive
from kindfleet.platform.wire import WorkloadState

pytestmark = pytest.mark.slow

LEASE = 8.5
SECONDS = 10.0  # the run's own length


def test_an_exclusive_run_cut_off_from_its_hub_never_overlaps_its_rerun(drill: Drill):
    assert exclusive.stop_after(LEASE, exclusive.SPOKE_GRACE) >= exclusive.MIN_RUN
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
    while not drill.runs():
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

    runs = sorted(drill.runs(), key=lambda r: r.generation)
    assert done.state is WorkloadState.SUCCEEDED, (done.state, done.reason, done.message)
    assert [r.generation for r in runs] == [1, 2], runs
    first, second = runs
    assert first.spoke == victim
    assert first.end is None and second.end is not None  # stopped; the re-run finished
    # The cut-off copy's last sign of life came before the re-run's first.
    assert first.last < second.start, f"overlap of {first.last - second.start:.2f}s"
    # It stopped by itself, well within its lease of the cut (not at the heal).
    assert first.last - cut < LEASE, f"stopped {first.last - cut:.1f}s after the cut"
