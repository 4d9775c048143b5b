"""Nothing of a run outlives it, or its agent, whatever dies and however (issue 14).

The workload is a process tree (a shell with children and grandchildren, one that ignores
SIGTERM, one that double-forks and calls setsid, one left stopped by SIGSTOP), run by a real
agent process against the hub double. Every process of the tree carries a marker in its
environment, so "nothing survives" is checked in /proc itself: no process on the machine
has the marker, within a fixed bound, after:

- the run ends on its own (its first process exits, leaving the rest behind);
- the agent is stopped with SIGTERM;
- the agent is killed with SIGKILL; the launcher is; a keeper is;
- the agent, its launcher and the keeper are killed in the same instant (then `spokectl
  reap` cleans up: all of it with cgroups; without, all but what left its session);

each with cgroups (where the machine has them) and without. A stress test kills the agent,
the launcher or the keeper at a random moment of a launch, a fixed number of times.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import psutil
import pytest
from agent_it_helpers import AgentProc, gone, spec, wait_until
from tests.procscan import with_environment

from kindfleet.platform.agent.executors.process import cgroups
from kindfleet.platform.wire import EventType

BOUND = 5.0  # seconds for every process of a run to be gone after what killed it
TREE = r"""
out=$KINDFLEET_OUTPUT_DIR
note() { echo "$1" >> "$out/pids"; }
sleep 300 & note $!
bash -c 'sleep 300 & echo $! >> "$0"; sleep 300 & echo $! >> "$0"; wait' "$out/pids" & note $!
bash -c 'trap "" TERM; sleep 300 & echo $! >> "$0"; wait' "$out/pids" & note $!
( ( exec setsid sleep 300 ) & echo $! >> "$out/pids" ) &
sleep 300 & kill -STOP $! ; note $!
while [ "$(wc -l < "$out/pids")" -lt 8 ]; do sleep 0.05; done
touch "$out/ready"
"""
MODES = ["auto", "off"]


def _marked(marker: str) -> list[int]:
    """Live processes whose environment holds the marker (zombies are dead)."""
    return with_environment(f"KINDFLEET_TEST_TREE={marker}")


def _all_gone(marker: str, bound: float = BOUND, what: str = "") -> None:
    deadline = time.monotonic() + bound
    while _marked(marker):
        if time.monotonic() > deadline:
            alive = _describe(_marked(marker))
            raise AssertionError(f"{what}: still alive after {bound}s: {alive}")
        time.sleep(0.05)


def _describe(pids: list[int]) -> str:
    out = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            parent = p.parent()
            under = f"{parent.pid} {parent.name()}" if parent else "none"
            out.append(
                f"{pid} {p.status()} sid={os.getsid(pid)} parent={under} {' '.join(p.cmdline())}"
            )
        except (OSError, psutil.Error):
            continue
    return "; ".join(out)


def _tree(marker: str, *, then: str = "wait"):
    """The tree; then its first process waits for its children (forever), or exits."""
    return spec("bash", "-c", f"{TREE}{then}\n", env={"KINDFLEET_TEST_TREE": marker})


def _ready(agent: AgentProc, wid: str, marker: str) -> list[int]:
    out = agent.run_dir(wid) / "outputs"
    wait_until((out / "ready").exists, timeout=20, what="the tree to be up")
    marked = _marked(marker)
    assert len(marked) >= 9, _describe(marked)  # the shell, 8 below it (and subshells)
    return marked


def _launcher(agent: AgentProc) -> psutil.Process:
    children = psutil.Process(agent.pid).children()
    return next(p for p in children if "launcher" in " ".join(p.cmdline()))


def _keeper(agent: AgentProc, wid: str) -> int:
    """The run's keeper, from the agent's record of the start: the tree can be up before
    the agent has committed that record (its journal commits in batches), so wait for it."""
    wait_until(lambda: _handle(agent, wid) is not None, timeout=20, what="the start recorded")
    return int(json.loads(_handle(agent, wid) or "")["ref"]["keeper"])


def _handle(agent: AgentProc, wid: str) -> str | None:
    conn = sqlite3.connect(agent.state_dir / "agent.db")
    try:
        row = conn.execute("SELECT handle FROM assignments WHERE workload = ?", (wid,)).fetchone()
    finally:
        conn.close()
    return row[0] if row and row[0] else None


def _start(start_agent, mode: str) -> AgentProc:
    if mode == "auto" and cgroups.own_group() is None:
        pytest.skip("no cgroup v2 hierarchy on this machine")
    return start_agent("--run-cgroups", mode)


def _spokectl_reap(agent: AgentProc) -> list[int]:
    state = str(agent.state_dir)
    out = subprocess.run(
        [sys.executable, "-m", "kindfleet.platform.agent.spokectl", "reap", "--state-dir", state],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return [int(line) for line in out.stdout.split()]


@pytest.mark.parametrize("mode", MODES)
def test_when_the_first_process_exits_the_rest_of_the_run_dies(hub, start_agent, mode):
    agent = _start(start_agent, mode)
    marker = uuid.uuid4().hex
    wid = hub.double.run(_tree(marker, then="exit 0"), "spoke1")  # leaves its tree behind
    wait_until(lambda: hub.double.workload(wid).state == "Succeeded", what="the report")
    assert not _marked(marker)  # all gone before the run was reported ended
    pids = (agent.run_dir(wid) / "outputs" / "pids").read_text().split()
    assert len(pids) == 8  # the whole tree had been started
    assert agent.terminate() == 0


@pytest.mark.parametrize("mode", MODES)
def test_sigterm_to_the_agent_stops_the_whole_tree(hub, start_agent, mode):
    agent = _start(start_agent, mode)
    marker = uuid.uuid4().hex
    wid = hub.double.run(_tree(marker), "spoke1")
    _ready(agent, wid, marker)
    assert agent.terminate() == 0
    assert not _marked(marker)  # the agent reported the stop only once all was gone
    last = hub.double.status_events(wid)[-1]
    assert (last.type, last.reason) == (EventType.FAILED, "AgentShutdown")


@pytest.mark.parametrize("mode", MODES)
def test_kill_9_of_the_agent_kills_the_whole_tree(hub, start_agent, mode):
    agent = _start(start_agent, mode)
    marker = uuid.uuid4().hex
    wid = hub.double.run(_tree(marker), "spoke1")
    _ready(agent, wid, marker)
    launcher = _launcher(agent)
    agent.kill9()
    _all_gone(marker)
    wait_until(lambda: gone(launcher.pid), timeout=BOUND, what="the launcher to finish")
    assert _spokectl_reap(agent) == []  # nothing was left for a cleanup


@pytest.mark.parametrize("mode", MODES)
def test_kill_9_of_the_launcher_kills_the_tree_and_the_agent_carries_on(hub, start_agent, mode):
    agent = _start(start_agent, mode)
    marker = uuid.uuid4().hex
    wid = hub.double.run(_tree(marker), "spoke1")
    _ready(agent, wid, marker)
    _launcher(agent).kill()
    _all_gone(marker)
    wait_until(lambda: hub.double.workload(wid).state == "Failed", what="the report")
    assert hub.double.status_events(wid)[-1].reason == "LauncherLost"
    after = hub.double.run(spec("true"), "spoke1")  # a new launcher for the next run
    wait_until(lambda: hub.double.workload(after).state == "Succeeded", what="the next run")
    assert agent.terminate() == 0


@pytest.mark.parametrize("mode", MODES)
def test_kill_9_of_the_keeper_kills_the_tree(hub, start_agent, mode):
    agent = _start(start_agent, mode)
    marker = uuid.uuid4().hex
    wid = hub.double.run(_tree(marker), "spoke1")
    _ready(agent, wid, marker)
    os.kill(_keeper(agent, wid), signal.SIGKILL)
    _all_gone(marker)
    wait_until(lambda: hub.double.workload(wid).state == "Failed", what="the report")
    assert hub.double.status_events(wid)[-1].reason == "KeeperLost"
    assert agent.terminate() == 0


@pytest.mark.parametrize("mode", MODES)
def test_agent_launcher_and_keeper_killed_at_once_then_reaped(hub, start_agent, mode):
    agent = _start(start_agent, mode)
    marker = uuid.uuid4().hex
    wid = hub.double.run(_tree(marker), "spoke1")
    marked = _ready(agent, wid, marker)
    escaped = {p for p in marked if os.getsid(p) == p}  # the one that called setsid
    victims = [_keeper(agent, wid), _launcher(agent).pid, agent.pid]
    for pid in victims:  # SIGSTOP first, so that none of them can act on another's death
        os.kill(pid, signal.SIGSTOP)
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    agent.proc.wait(10)
    assert _marked(marker)  # the runs go on until reaped
    # Judged by what is alive once the reap has run: a process seen alive before it may
    # still die of its own death signal meanwhile (the reap need not be the one to kill it).
    _spokectl_reap(agent)
    if mode == "auto":  # the cgroup holds the whole run
        _all_gone(marker)
    else:  # its session holds all of it but what moved to a session of its own
        wait_until(lambda: set(_marked(marker)) <= escaped, timeout=BOUND, what="reap")
        for pid in escaped:
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_stress_kill_at_a_random_moment_of_a_launch(hub, start_agent, mode):
    """Twelve cycles: a tree is launched and, at a random moment of its launch, the agent,
    the launcher or the keeper is killed with SIGKILL. Nothing of the tree may survive."""
    rng = random.Random(14)
    agent = _start(start_agent, mode)
    for cycle in range(12):
        victim = ("agent", "launcher", "keeper")[cycle % 3]
        wait_until(lambda: "spoke1" in hub.double.spokes, what="registration")
        if victim != "agent":  # the launcher starts with the first run
            warm = hub.double.run(spec("true"), "spoke1")
            wait_until(lambda w=warm: hub.double.workload(w).state == "Succeeded", what="warm")
        marker = uuid.uuid4().hex
        wid = hub.double.run(_tree(marker), "spoke1")
        time.sleep(rng.uniform(0.0, 0.6))  # somewhere in delivery, accept, launch, spawn
        if victim == "agent":
            agent.kill9()
        elif victim == "launcher":
            _launcher(agent).kill()
        else:
            wait_until(lambda w=wid: _has_handle(agent, w), what="the run to be recorded")
            os.kill(_keeper(agent, wid), signal.SIGKILL)
        _all_gone(marker, what=f"cycle {cycle}, {victim} killed")
        if victim == "agent":
            agent.start()
    assert agent.terminate() == 0


def _has_handle(agent: AgentProc, wid: str) -> bool:
    return _handle(agent, wid) is not None
