"""Loss detection that no one can switch off, against real processes (issue 9, part 2):
five phantom spokes register over HTTP with valid join tokens and never heartbeat; a real
spoke agent is then frozen (SIGSTOP) while its workload runs. The phantoms must not turn
the disruption guard on: the frozen spoke is Lost at its window and its work is running
again elsewhere within the window plus 5 s."""

from __future__ import annotations

import time

import httpx2
import pytest
from tests.integration.platform.conftest import LOST_AFTER, Drill

from kindfleet.platform.wire import SpokeHealth, WorkloadState

pytestmark = pytest.mark.slow

CAPACITY = {"cpu_millis": 8000, "memory_bytes": 2**33, "gpus": 0}


def test_phantom_spokes_do_not_stop_a_frozen_spokes_work_from_moving(drill: Drill):
    with drill.client() as hub:
        url = hub.url
        tokens = {f"phantom{i}": hub.join_token(f"phantom{i}").token for i in range(5)}
    for name, token in tokens.items():
        answer = httpx2.post(
            f"{url}/v1/spokes/register",
            json={"name": name, "capacity": CAPACITY, "executor": "process",
                  "labels": {"pool": "phantom"}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )  # fmt: skip
        assert answer.status_code == 200, answer.text

    with drill.client() as hub:
        wid = hub.submit(
            drill.spec("guarded", 120, selector={"match_labels": {"pool": "cpu"}},
                       retry={"max_retries": 1})
        ).workload.id  # fmt: skip
    [running] = drill.wait_for([wid], lambda w: w.state is WorkloadState.RUNNING, 60)
    victim = running.spoke
    assert victim is not None

    frozen = drill.fleet.fault("pause", victim)
    paused = time.monotonic()
    try:
        [moved] = drill.wait_for(
            [wid],
            lambda w: w.spoke not in (None, victim) and w.state is WorkloadState.RUNNING,
            LOST_AFTER + 5,
        )
        took = time.monotonic() - paused
        with drill.client() as hub:
            listed = hub.spoke_list()
    finally:
        drill.fleet.clear_faults([frozen.id])
    assert moved.generation == 2 and took <= LOST_AFTER + 5, (moved, took)
    health = {s.name: s.health for s in listed.items}
    assert health[victim] is SpokeHealth.LOST, health
    assert not listed.guard.active, listed.guard
