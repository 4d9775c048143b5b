"""The hub killed again and again under load, with the CPU starved (issue 14, part 2).

A busy-loop neighbour takes a core; a submitter sends batches of short workloads and
retries each batch, by its idempotency keys, until the hub acknowledges it; meanwhile the
hub is killed (-9) and started again CYCLES times while batches keep coming, at moments
drawn from a fixed seed. Then, from the runs' own records (each writes its start and end,
with its generation, to an append-only ledger): every acknowledged workload succeeded, and
each ran exactly once (so no two runs of one overlapped). A fixed count of cycles (5; set
KINDFLEET_STRESS_CYCLES for a longer drill): bounded, never "until it passes".
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict

import pytest
from tests.integration.platform.conftest import Drill

from kindfleet.errors import KindfleetError
from kindfleet.platform.wire import BatchItem, WorkloadSpec, WorkloadState

pytestmark = pytest.mark.slow

BATCH = 20
CYCLES = int(os.environ.get("KINDFLEET_STRESS_CYCLES", "5"))  # more: a longer drill
RUN = 'echo "start $EPOCHREALTIME $KINDFLEET_WORKLOAD_ID $KINDFLEET_GENERATION" >> "$0"; ' \
      'sleep 0.2; echo "end $EPOCHREALTIME $KINDFLEET_WORKLOAD_ID $KINDFLEET_GENERATION" >> "$0"'  # fmt: skip


def _spec(drill: Drill, i: int) -> WorkloadSpec:
    return WorkloadSpec.model_validate(
        {
            "name": f"stress-{i}",
            "command": ["bash", "-c", RUN, str(drill.ledger)],
            "resources": {"cpu": "100m", "memory": "16Mi"},
        }
    )


class Submitter(threading.Thread):
    """Batches, one after the other, until told to stop; each retried by its keys until
    the hub acknowledges it (a retry never submits twice)."""

    def __init__(self, drill: Drill) -> None:
        super().__init__()
        self.drill = drill
        self.acknowledged: list[str] = []
        self.refused = 0  # attempts that met a dead or restarting hub
        self.stop = threading.Event()

    def run(self) -> None:
        count = 0
        while not self.stop.is_set():
            items = [
                BatchItem(idempotency_key=f"stress-{uuid.uuid4().hex}", spec=_spec(self.drill, i))
                for i in range(count, count + BATCH)
            ]
            count += BATCH
            while True:
                try:
                    with self.drill.client() as hub:
                        self.acknowledged.extend(r.workload.id for r in hub.submit_batch(items))
                    break
                except (KindfleetError, OSError):
                    self.refused += 1
                    time.sleep(0.1)
            time.sleep(0.05)


def test_hub_killed_again_and_again_under_load_on_a_starved_cpu(drill: Drill):
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    rng = random.Random(14)
    submitter = Submitter(drill)
    try:
        submitter.start()
        for _ in range(CYCLES):
            time.sleep(rng.uniform(0.5, 3.0))
            drill.kill(drill.fleet.spec.hub.name)
            time.sleep(rng.uniform(0.0, 1.0))
            drill.restart_hub()
        submitter.stop.set()
        submitter.join(300)
    finally:
        submitter.stop.set()
        neighbour.kill()
        neighbour.wait()
    acknowledged = submitter.acknowledged
    assert not submitter.is_alive(), "a batch was never acknowledged"
    assert submitter.refused >= CYCLES, "the kills never met a submission"
    assert len(acknowledged) == len(set(acknowledged)) >= 10 * BATCH

    done = drill.wait_for(acknowledged, lambda w: w.state.terminal, 300)
    lost = [w.id for w in done if w.state is not WorkloadState.SUCCEEDED]
    assert not lost, f"acknowledged, not run to success: {lost[:10]}"

    starts: dict[str, list[tuple[float, int]]] = defaultdict(list)
    ends: dict[tuple[str, int], float] = {}
    for line in drill.ledger.read_text().splitlines():
        kind, at, workload, generation = line.split()
        if kind == "start":
            starts[workload].append((float(at), int(generation)))
        else:
            ends[(workload, int(generation))] = float(at)
    twice = {w: runs for w, runs in starts.items() if len(runs) != 1}
    assert not twice, f"ran more than once: {dict(list(twice.items())[:5])}"
    assert set(starts) == set(acknowledged), "a workload has no run on record"
    for workload, [(began, generation)] in starts.items():
        assert ends[(workload, generation)] >= began
    print(
        f"{len(acknowledged)} acknowledged, {submitter.refused} refused attempts, "
        f"{CYCLES} hub kills: every one ran exactly once"
    )
