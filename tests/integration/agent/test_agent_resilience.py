"""The failures the platform promises to survive, with real processes and real HTTP: the hub
down for a while, an agent killed with SIGKILL in the middle of a flush, acknowledgements
lost on the way back, an agent killed while its run has children, a graceful SIGTERM; and
the credential never written to a log."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from agent_it_helpers import gone, py, wait_until

from kindfleet.platform.wire import EventType

FAMILY = """
import os, pathlib, subprocess, time
child = subprocess.Popen(["sleep", "300"])
out = pathlib.Path(os.environ["KINDFLEET_OUTPUT_DIR"])
(out / "pids.tmp").write_text(f"{os.getpid()} {child.pid}")
(out / "pids.tmp").rename(out / "pids")
time.sleep(300)
"""


def _launcher(agent) -> int:
    children = psutil.Process(agent.pid).children()
    return next(p.pid for p in children if "launcher" in " ".join(p.cmdline()))


def _outbox(agent) -> tuple[int, int]:
    """(entries waiting in the outbox, highest seq ever handed out), read from the agent's db."""
    conn = sqlite3.connect(agent.state_dir / "agent.db")
    try:
        pending = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        last = conn.execute("SELECT value - 1 FROM meta WHERE key = 'next_seq'").fetchone()[0]
        return pending, last
    finally:
        conn.close()


def _stop_acknowledged(agent, timeout: float = 10.0) -> None:
    """Stop the agent once the hub has acknowledged its whole outbox. The hub shows a
    report as soon as it has applied it, a moment before its answer reaches the agent: a
    stop in that moment leaves the report for the agent's last flush, which is bounded
    (shutdown_flush_seconds) and, on a starved machine, may keep it for the next start."""
    wait_until(lambda: _outbox(agent)[0] == 0, timeout, what="the outbox acknowledged")
    assert agent.terminate() == 0


def _assert_exactly_once(hub, agent) -> None:
    pending, last = _outbox(agent)
    assert pending == 0, agent.log()[-3000:]
    seqs = hub.double.delivered_seqs("spoke1")
    assert seqs == list(range(1, last + 1)), "every seq delivered once, none missing"


def _family(agent, wid) -> tuple[int, int]:
    pids = agent.run_dir(wid) / "outputs" / "pids"
    wait_until(pids.exists, what="the run to start its child")
    leader, child = map(int, pids.read_text().split())
    return leader, child


def test_hub_outage_buffers_reports_and_delivers_them_once_in_order(hub, start_agent):
    agent = start_agent()
    wid = hub.double.run(py("import time; time.sleep(2)"), "spoke1")
    wait_until(lambda: hub.double.workload(wid).state == "Running", what="start")
    seen_before = len(hub.double.delivered_seqs("spoke1"))

    hub.stop()
    run_log = agent.run_dir(wid)
    wait_until(lambda: _outbox(agent)[0] > 0, what="reports to pile up")
    time.sleep(2.5)  # the run ends while the hub is away; it is not stopped for that
    pending, _ = _outbox(agent)
    assert pending >= 3
    assert run_log.exists()

    hub.start()
    wait_until(lambda: hub.double.workload(wid).state == "Succeeded", what="delivery")
    assert [e.type for e in hub.double.status_events(wid)] == [
        EventType.ACCEPTED,
        EventType.STARTED,
        EventType.SUCCEEDED,
    ]
    assert hub.double.status_events(wid)[-1].exit_code == 0
    assert len(hub.double.delivered_seqs("spoke1")) > seen_before
    _stop_acknowledged(agent)
    _assert_exactly_once(hub, agent)
    assert "hub unreachable" in agent.log()
    assert "hub reachable again" in agent.log()


def test_agent_started_while_the_hub_is_down_registers_when_it_comes(hub, start_agent):
    hub.stop()
    agent = start_agent()
    time.sleep(1.0)
    assert agent.proc.poll() is None
    hub.start()
    wait_until(lambda: "spoke1" in hub.double.spokes, what="registration")
    assert agent.terminate() == 0


def test_kill9_in_the_middle_of_a_flush_loses_nothing_and_applies_nothing_twice(hub, start_agent):
    agent = start_agent()
    wid = hub.double.run(py("import time; time.sleep(1)"), "spoke1")
    wait_until(lambda: hub.double.workload(wid).state == "Running", what="start")
    hub.stop()
    wait_until((agent.run_dir(wid) / "stdout.log").exists, what="run dir")
    time.sleep(2.0)  # the run ends; its terminal event waits in the outbox
    pending_before, _ = _outbox(agent)
    assert pending_before > 0

    hold = threading.Event()
    hub.double.hold_events = hold  # apply the next batch, then hold its answer back
    hub.double.batch_applied.clear()
    hub.start()
    wait_until(hub.double.batch_applied.is_set, what="a batch to be applied")
    agent.kill9()  # applied by the hub, never acknowledged to the agent
    hub.double.hold_events = None
    hold.set()

    agent.start()
    _stop_acknowledged(agent)
    _assert_exactly_once(hub, agent)
    assert hub.double.duplicates > 0  # the unacknowledged batch came again, applied once
    types = [e.type for e in hub.double.status_events(wid)]
    assert types == [EventType.ACCEPTED, EventType.STARTED, EventType.SUCCEEDED]


def test_lost_acknowledgements_are_redelivered_and_applied_once(hub, start_agent):
    hub.double.hang_event_responses = 2  # applied, but the answer never arrives in time
    hub.double.hang_seconds = 3.0
    agent = start_agent()
    wid = hub.double.run(py("import time; time.sleep(0.5)"), "spoke1")
    wait_until(lambda: hub.double.workload(wid).state == "Succeeded", what="run", timeout=20)
    # The hub applies the last report before its (hung) answer reaches the agent: the
    # outbox empties only once a redelivery is acknowledged.
    _stop_acknowledged(agent, timeout=20)
    _assert_exactly_once(hub, agent)
    assert hub.double.duplicates > 0
    assert len(hub.double.status_events(wid)) == 3


def test_killed_agent_leaves_no_run_behind_and_its_successor_reports_it(hub, start_agent):
    agent = start_agent()
    wid = hub.double.run(py(FAMILY), "spoke1")
    leader, child = _family(agent, wid)
    agent.kill9()
    # The death signals: agent -> launcher -> keeper, which kills the whole run.
    wait_until(lambda: gone(leader) and gone(child), timeout=5, what="the run to die")

    agent.start()
    wait_until(lambda: hub.double.workload(wid).state == "Failed", what="report")
    last = hub.double.status_events(wid)[-1]
    assert (last.type, last.reason) == (EventType.FAILED, "AgentRestarted")
    assert agent.terminate() == 0


def reap(state_dir):
    """What `spokectl reap` killed, as the fleet's tools run it."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kindfleet.platform.agent.spokectl",
            "reap",
            "--state-dir",
            str(state_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return [int(line) for line in done.stdout.split()]


def test_reap_leaves_a_live_agents_runs_alone(hub, start_agent):
    agent = start_agent()
    wid = hub.double.run(py(FAMILY), "spoke1")
    leader, child = _family(agent, wid)
    assert reap(agent.state_dir) == []  # a live agent's runs are not orphans
    assert not gone(leader) and not gone(child)
    launcher = _launcher(agent)
    agent.kill9()
    wait_until(lambda: gone(leader) and gone(child), timeout=5, what="the run to die")
    wait_until(lambda: gone(launcher), timeout=5, what="the launcher to finish")
    assert reap(agent.state_dir) == []  # nothing was left to clean up


def test_sigterm_stops_runs_reports_them_and_exits_zero(hub, start_agent):
    agent = start_agent()
    wid = hub.double.run(py(FAMILY), "spoke1")
    leader, child = _family(agent, wid)
    wait_until(lambda: hub.double.workload(wid).state == "Running", what="start")
    assert agent.terminate() == 0
    assert gone(leader)
    wait_until(lambda: gone(child), timeout=3, what="the whole process group to end")
    if _outbox(agent)[0]:  # the last flush is bounded: what it could not send waits
        agent.start()  # for the next start, which sends it
        _stop_acknowledged(agent)
    last = hub.double.status_events(wid)[-1]
    assert (last.type, last.reason) == (EventType.FAILED, "AgentShutdown")
    _assert_exactly_once(hub, agent)


def test_sigint_is_graceful_too(hub, start_agent):
    agent = start_agent()
    wait_until(lambda: "spoke1" in hub.double.spokes, what="registration")
    agent.proc.send_signal(signal.SIGINT)
    assert agent.proc.wait(20) == 0


def test_no_token_ever_reaches_the_log(hub, start_agent, tmp_path: Path):
    agent = start_agent()
    wait_until(lambda: "spoke1" in hub.double.credentials, what="registration")
    first = hub.double.credentials["spoke1"]
    hub.double.revoke("spoke1")
    wait_until(lambda: hub.double.credentials["spoke1"] != first, what="re-registration")
    wid = hub.double.run(py("print('hello')"), "spoke1")
    wait_until(lambda: hub.double.workload(wid).state == "Succeeded", what="run")
    hub.stop()  # errors get logged too
    time.sleep(1.0)
    hub.start()
    wait_until(lambda: hub.double.spokes["spoke1"].heartbeats > 3, what="heartbeats")
    assert agent.terminate() == 0

    text = agent.log() + "".join(p.read_text() for p in tmp_path.glob("spoke1.out.*"))
    assert "registered as spoke1" in text
    assert "DEBUG" in text  # the log ran at debug level
    for secret in (first, hub.double.credentials["spoke1"], hub.double.bootstrap_token):
        assert secret not in text
    for request in hub.double.requests:  # tokens only ever travel in the header
        assert first.encode() not in request.body
        assert hub.double.bootstrap_token.encode() not in request.body
    state = json.dumps(sorted(p.name for p in agent.state_dir.iterdir()))
    assert "credential" in state


@pytest.mark.slow
def test_an_outage_longer_than_the_lease_neither_stops_nor_duplicates_running_work(
    hub, start_agent
):
    hub.double.lost_after_seconds = 2.0  # what the agent is told; it never acts on it alone
    agent = start_agent()
    wid = hub.double.run(py(FAMILY), "spoke1")
    leader, child = _family(agent, wid)
    wait_until(lambda: hub.double.workload(wid).state == "Running", what="start")

    hub.stop()
    time.sleep(4.0)  # twice lost_after, many missed heartbeats and failed flushes
    assert not gone(leader) and not gone(child)
    hub.start()
    before = hub.double.spokes["spoke1"].heartbeats
    wait_until(lambda: hub.double.spokes["spoke1"].heartbeats > before + 2, what="heartbeats")
    assert not gone(leader) and not gone(child)  # the same processes, still running
    assert (leader, child) == _family(agent, wid)
    types = [e.type for e in hub.double.status_events(wid)]
    assert types == [EventType.ACCEPTED, EventType.STARTED]  # started once, not again

    hub.double.cancel(wid)
    wait_until(lambda: hub.double.workload(wid).state == "Cancelled", what="cancel")
    _stop_acknowledged(agent)
    _assert_exactly_once(hub, agent)


def test_a_second_agent_on_the_same_state_dir_refuses_to_start(hub, start_agent, tmp_path):
    first = start_agent()
    wait_until(lambda: "spoke1" in hub.double.spokes, what="registration")
    second = start_agent()  # same name, same state directory
    assert second.proc.wait(20) == 3
    out = "".join(p.read_text() for p in tmp_path.glob("spoke1.out.*"))
    assert "another agent is running" in out
    assert first.proc.poll() is None
    assert first.terminate() == 0
