"""The platform's failure drills, for real: processes, HTTP, SQLite, kill -9.

- kill -9 the hub under load and restart it: no accepted workload lost, none ran twice
  (let alone on two spokes at once);
- kill -9 a spoke: its running work is re-routed and retried elsewhere, after the spoke's
  runs are gone;
- hub down for longer than the loss window: spokes keep working, and every buffered
  report arrives exactly once, with no mass kill when the hub returns.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict

import pytest
from tests.integration.platform.conftest import LOST_AFTER, Drill, Run

from kindfleet.errors import KindfleetError
from kindfleet.platform.wire import WorkloadState

pytestmark = pytest.mark.slow

TERMINAL = lambda w: w.state.terminal  # noqa: E731


def _by_workload(runs: list[Run]) -> dict[str, list[Run]]:
    out: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        out[run.workload].append(run)
    return out


def _never_two_at_once(runs: list[Run], killed_at: dict[str, float]) -> None:
    """No two runs of one workload overlap in time (a killed spoke's run ends at the kill)."""
    for workload, its_runs in _by_workload(runs).items():
        spans = sorted((r.start, r.end or killed_at[r.spoke], r.spoke) for r in its_runs)
        for (_, end, spoke), (start, _, other) in itertools.pairwise(spans):
            assert start >= end, f"{workload} ran on {spoke} and {other} at once"


def test_kill_9_hub_under_load_loses_nothing_and_runs_nothing_twice(drill: Drill):
    accepted: list[str] = []
    refused = 0
    stop = threading.Event()

    def submit() -> None:
        nonlocal refused
        for i in range(240):
            if stop.is_set():
                return
            try:
                with drill.client() as hub:
                    response = hub.submit(drill.spec(f"load-{i}", 0.3), idempotency_key=f"load-{i}")
                accepted.append(response.workload.id)
            except KindfleetError:
                refused += 1  # not accepted: the hub was down; nothing was promised
                time.sleep(0.05)

    submitter = threading.Thread(target=submit)
    submitter.start()
    while len(accepted) < 60:
        time.sleep(0.01)
    drill.kill(drill.fleet.spec.hub.name)
    time.sleep(1.5)
    drill.restart_hub()
    submitter.join(timeout=120)
    stop.set()

    workloads = drill.wait_for(accepted, TERMINAL, timeout=90)
    assert len(set(accepted)) == len(accepted) >= 60
    assert all(w.state == WorkloadState.SUCCEEDED for w in workloads), {
        w.id: (w.state.value, w.reason) for w in workloads if w.state != WorkloadState.SUCCEEDED
    }
    runs = _by_workload(drill.runs())
    for workload in workloads:
        assert len(runs[workload.id]) == 1, f"{workload.id} ran {len(runs[workload.id])} times"
        assert runs[workload.id][0].end is not None
    _never_two_at_once(drill.runs(), {})


def test_kill_9_spoke_reroutes_its_running_work(drill: Drill):
    with drill.client() as hub:
        ids = [
            hub.submit(drill.spec(f"long-{i}", 4.0, retry={"max_retries": 1})).workload.id
            for i in range(6)
        ]
    running = drill.wait_for(ids, lambda w: w.state == WorkloadState.RUNNING, timeout=30)
    victim = running[0].spoke
    assert victim is not None
    on_victim = {w.id for w in running if w.spoke == victim}
    killed_at = drill.kill(victim)

    workloads = drill.wait_for(ids, TERMINAL, timeout=LOST_AFTER + 30)
    assert all(w.state == WorkloadState.SUCCEEDED for w in workloads)
    for w in workloads:
        if w.id in on_victim:
            assert next(a.spoke for a in w.attempts) == victim
            assert w.attempts[-1].spoke != victim
            assert w.generation == 2
            assert w.retries_used == 1
        else:
            assert w.generation == 1  # work on healthy spokes was left alone
    runs = drill.runs()
    for run in runs:
        if run.spoke == victim:
            assert run.end is None  # its runs died with the agent (no orphan finished them)
    reruns = [r for r in runs if r.workload in on_victim and r.spoke != victim]
    assert len(reruns) == len(on_victim)
    assert all(r.start > killed_at for r in reruns)
    _never_two_at_once(runs, {victim: killed_at})
    with drill.client() as hub:
        health = {s.name: s.health.value for s in hub.spokes()}
    assert health[victim] == "Lost"


def test_hub_down_for_a_while_spokes_keep_working_and_reports_arrive_once(drill: Drill):
    with drill.client() as hub:
        ids = [hub.submit(drill.spec(f"steady-{i}", 2.0)).workload.id for i in range(6)]
    drill.wait_for(ids, lambda w: w.state == WorkloadState.RUNNING, timeout=30)
    down_at = drill.kill(drill.fleet.spec.hub.name)
    outage = 2.0 + LOST_AFTER + 1.0  # longer than the runs and than the loss window
    time.sleep(outage)
    finished_while_down = [r for r in drill.runs() if r.end is not None and r.end < time.time()]
    assert len(finished_while_down) == len(ids)  # the spokes kept working
    drill.restart_hub()

    workloads = drill.wait_for(ids, TERMINAL, timeout=30)
    assert all(w.state == WorkloadState.SUCCEEDED for w in workloads)
    for w in workloads:
        assert w.generation == 1, "no re-route, no mass kill after the outage"
        assert len(w.attempts) == 1
        assert w.attempts[0].started_at is not None
        assert w.attempts[0].finished_at is not None
        assert w.attempts[0].exit_code == 0
    assert all(r.start < down_at for r in drill.runs())
    assert len(drill.runs()) == len(ids)  # nothing ran twice
    deadline = time.monotonic() + 20  # agents back off while the hub is away; then renew
    while True:
        with drill.client() as hub:
            health = {s.name: s.health.value for s in hub.spokes()}
            series = hub.telemetry(limit=10000)
        if set(health.values()) == {"Ready"} or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert set(health.values()) == {"Ready"}, "no spoke was declared Lost after the outage"
    for s in series:
        seqs = [p.seq for p in s.points]
        assert len(seqs) == len(set(seqs)), f"telemetry of {s.spoke} applied twice"
    during = [
        p for s in series for p in s.points if down_at < p.at.timestamp() < down_at + outage - 0.5
    ]
    assert during, "telemetry buffered during the outage must arrive after it"
