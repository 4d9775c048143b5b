"""The run manager in-process, with real processes and a real outbox: redelivery, newer
generations fencing older ones, rejection, cancels for runs not held, refused reports,
recovery after a restart, and shutdown."""

from __future__ import annotations

import asyncio
import subprocess

import pytest
from agent_unit_helpers import gone, py, tx, with_capacity
from runmanager_helpers import QUICK, SLEEP
from runmanager_helpers import assignment as _a
from runmanager_helpers import close as _close
from runmanager_helpers import events as _events
from runmanager_helpers import manager as _manager
from runmanager_helpers import settled as _settled
from runmanager_helpers import until as _until

from kindfleet.platform.agent import state
from kindfleet.platform.agent.db import AgentDb
from kindfleet.platform.agent.executors.base import RunHandle
from kindfleet.platform.agent.executors.process import procfs
from kindfleet.platform.agent.runs import RunManager
from kindfleet.platform.agent.state import Held, Phase
from kindfleet.platform.wire import HeldAssignment


def _pid(m: RunManager, key: str) -> int:
    handle = m.runs[key].held.handle
    assert handle is not None
    return int(handle.ref["pid"])


async def test_a_redelivered_assignment_runs_once(settings):
    m = _manager(settings)
    assert await m.take([_a("w1", 1, QUICK)]) == 1
    assert await m.take([_a("w1", 1, QUICK)]) == 0
    await _until(lambda: "w1-g1" in m.done)
    assert await m.take([_a("w1", 1, QUICK)]) == 0
    assert [t for _, _, t, _ in _events(m)] == ["accepted", "started", "succeeded"]
    assert m.held() == [HeldAssignment(workload="w1", generation=1)]
    await m.acked(m.records.last_seq())
    assert m.held() == []
    assert m.records.held() == []
    await _close(m)


async def test_a_newer_generation_fences_the_older_copy(settings):
    m = _manager(settings)
    await m.take([_a("w1", 1)])
    await _until(lambda: m.runs["w1-g1"].held.phase is Phase.RUNNING)
    old = _pid(m, "w1-g1")
    await m.take([_a("w1", 2)])
    await _until(lambda: "w1-g1" not in m.runs and gone(old))
    assert await m.take([_a("w1", 1)]) == 0  # a late copy of the old one is ignored
    events = _events(m)
    assert [(g, t) for _, g, t, _ in events if g == 1] == [(1, "accepted"), (1, "started")]
    assert ("w1", 2, "accepted", None) in events
    await _close(m)


async def test_what_does_not_fit_is_rejected_and_not_repeated(settings):
    m = _manager(with_capacity(settings, gpus=1))
    gpu = py("import time; time.sleep(30)", resources={"gpu": 1})
    await m.take([_a("w1", 1, gpu), _a("w2", 1, gpu)])
    await m.take([_a("w2", 1, gpu)])
    await _settled(m)
    rejected = [e for e in _events(m) if e[2] == "rejected"]
    assert rejected == [("w2", 1, "rejected", "InsufficientCapacity")]
    assert m.runs["w1-g1"].held.gpu_ids == (0,)
    await _close(m)


async def test_cancel_of_a_run_not_held_is_answered_once(settings):
    m = _manager(settings)
    assert await m.take([_a("w9", 4, cancel=True)]) == 1
    assert await m.take([_a("w9", 4, cancel=True)]) == 0
    await _settled(m)
    assert _events(m) == [("w9", 4, "cancelled", "Cancelled")]
    await _close(m)


async def test_a_cancel_is_reported_a_heartbeat_stop_is_not(settings):
    m = _manager(settings)
    await m.take([_a("w1", 1), _a("w2", 1)])
    await _until(lambda: all(r.held.phase is Phase.RUNNING for r in m.runs.values()))
    stale = _pid(m, "w2-g1")
    await m.take([_a("w1", 1, cancel=True)])
    m.apply_stop([HeldAssignment(workload="w2", generation=1)])
    await _until(lambda: not m.runs and gone(stale))
    assert [(w, t, r) for w, _, t, r in _events(m) if t not in ("accepted", "started")] == [
        ("w1", "cancelled", "Cancelled")
    ]
    assert m.held() == [HeldAssignment(workload="w1", generation=1)]
    await _close(m)


async def test_a_refused_report_fences_the_run_without_another_word(settings):
    m = _manager(settings)
    await m.take([_a("w1", 1)])
    await _until(lambda: m.runs["w1-g1"].held.phase is Phase.RUNNING)
    pid = _pid(m, "w1-g1")
    await _settled(m)
    sent = m.records.entries()
    m.refused([sent[0].seq], sent)
    await _until(lambda: not m.runs and gone(pid))
    assert [t for _, _, t, _ in _events(m)] == ["accepted", "started"]
    assert m.held() == []
    await _close(m)


async def test_timeout_is_deadline_exceeded(settings):
    m = _manager(settings)
    await m.take([_a("w1", 1, py("import time; time.sleep(30)", timeout_seconds=0.3))])
    await _until(lambda: "w1-g1" in m.done)
    assert _events(m)[-1] == ("w1", 1, "failed", "DeadlineExceeded")
    await _close(m)


async def test_shutdown_reports_running_runs_and_keeps_unstarted_ones(settings):
    m = _manager(settings)
    await m.take([_a("w1", 1)])
    await _until(lambda: m.runs["w1-g1"].held.phase is Phase.RUNNING)
    # as if accepted, not started
    row = state.insert_row(Held("w2", 1, QUICK, Phase.ACCEPTED))
    await m.records.journal.submit(lambda w: w.add(state.INSERT_SQL, row))
    await _close(m)
    assert _events(m)[-1] == ("w1", 1, "failed", "AgentShutdown")
    phases = {h.key: h.phase for h in m.records.held()}
    assert phases == {"w1-g1": Phase.DONE, "w2-g1": Phase.ACCEPTED}


async def test_recovery_after_a_restart(settings):
    db = AgentDb(settings.db_path)
    # Left by "the old agent", its launcher and keeper all killed at once: a keeper's session.
    lost = subprocess.Popen(["sleep", "30"], start_new_session=True)
    (settings.state_dir / "keepers").write_text(f"keeper {lost.pid} {procfs.start_of(lost.pid)}\n")
    ref = {"key": "w1-g1", "pid": lost.pid, "start": procfs.start_of(lost.pid) or 0}
    (settings.runs_dir / "w4-g1").mkdir()  # the old agent had started w4, not recorded it
    with tx(db) as conn:
        conn.execute(
            state.INSERT_SQL,
            state.insert_row(Held("w1", 1, SLEEP, Phase.RUNNING, handle=RunHandle("process", ref))),
        )
        conn.execute(state.INSERT_SQL, state.insert_row(Held("w2", 1, QUICK, Phase.ACCEPTED)))
        conn.execute(
            state.INSERT_SQL, state.insert_row(Held("w3", 1, QUICK, Phase.DONE, terminal_seq=1))
        )
        conn.execute(state.INSERT_SQL, state.insert_row(Held("w4", 1, QUICK, Phase.ACCEPTED)))
    db.close()

    m = _manager(settings)
    await m.recover()
    lost.wait(5)  # killed by the recovery (and reaped here: it is this test's child)
    await _until(lambda: "w2-g1" in m.done and "w4-g1" in m.done)
    events = _events(m)
    assert ("w1", 1, "failed", "AgentRestarted") in events
    assert [t for w, _, t, _ in events if w == "w2"] == ["started", "succeeded"]
    assert [(t, r) for w, _, t, r in events if w == "w4"] == [("failed", "AgentRestarted")]
    held = {(h.workload, h.generation) for h in m.held()}
    assert held == {("w1", 1), ("w2", 1), ("w3", 1), ("w4", 1)}  # until the hub acknowledges
    await _close(m)


async def test_recovered_unstarted_runs_wait_for_the_hubs_word(settings, tmp_path):
    """Unstarted runs taken back after a restart start once the first heartbeat is
    answered (or fails): the hub may have placed them elsewhere while this spoke was away,
    or had them run already (a state directory restored from a copy); its answer fences
    them first. Before, they started at once, beside the copy the hub placed instead."""
    marks = {w: tmp_path / w for w in ("w1", "w2")}
    db = AgentDb(settings.db_path)
    with tx(db) as conn:
        for w, mark in marks.items():
            spec = py(f"open({str(mark)!r}, 'w').write('ran')")
            conn.execute(state.INSERT_SQL, state.insert_row(Held(w, 1, spec, Phase.ACCEPTED)))
    db.close()

    m = _manager(settings)
    heard = asyncio.Event()
    await m.recover(heard)
    await asyncio.sleep(0.5)  # time enough to start, were they not waiting
    assert not any(mark.exists() for mark in marks.values())
    m.apply_stop([HeldAssignment(workload="w1", generation=1)])  # the hub's answer
    heard.set()
    await _until(lambda: "w2-g1" in m.done and "w1-g1" not in m.runs)
    assert not marks["w1"].exists() and marks["w2"].read_text() == "ran"
    assert [w for w, _, t, _ in _events(m) if t == "started"] == ["w2"]  # w1: no report
    await _close(m)


@pytest.mark.parametrize("gpus", [0, 1])
async def test_telemetry_samples_runs_and_the_spoke(settings, gpus):
    m = _manager(settings)
    await m.take([_a("w1", 1, py("import time; time.sleep(30)", resources={"gpu": gpus}))])
    await _until(lambda: m.runs["w1-g1"].held.phase is Phase.RUNNING)
    await m.sample()
    points = [e.body for e in m.records.entries() if e.kind == "telemetry"]
    run = next(p for p in points if p["workload"] == "w1")
    spoke = next(p for p in points if p["workload"] is None)
    assert set(run["metrics"]) == {"cpu_cores", "rss_bytes", "elapsed_seconds", "gpus"}
    assert run["metrics"]["gpus"] == gpus
    assert spoke["metrics"]["running"] == 1
    assert spoke["metrics"]["allocated_gpus"] == gpus
    await _close(m)


async def test_capacity_is_free_before_the_end_of_a_run_can_reach_the_hub(settings):
    """The hub may send new work as soon as it has a run's end; the spoke must have room by
    then. The end is committed (and so can be flushed) before the run's task carries on."""
    m = _manager(with_capacity(settings, cpu_millis=100, memory_bytes=128 << 20))
    for n in range(1, 6):
        await m.take([_a(f"w{n}", 1, QUICK)])
        while not any(e[0] == f"w{n}" and e[2] == "succeeded" for e in _events(m)):
            await asyncio.sleep(0)  # the moment its end is on disk, flushable
        await m.take([_a(f"x{n}", 1, QUICK)])  # what the hub would send next, at once
        await _until(lambda n=n: f"x{n}-g1" in m.done)
    await _settled(m)
    assert [e for e in _events(m) if e[2] == "rejected"] == []
    await _close(m)
