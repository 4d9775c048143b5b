"""A real agent against a real hub: accepts it holds but has not written down (its disk is
full) are acknowledged by its heartbeats; killed with SIGKILL, it comes back without them.
The hub must send them again: they sat Assigned on a Ready spoke for ever (found with
this very setup). Needs root (to mount a tmpfs)."""

from __future__ import annotations

import sqlite3
import types
from pathlib import Path

import pytest
from agent_it_helpers import AgentProc, wait_until
from tests.smalldisk import fill, small_disk

from kindfleet.platform.client import HubClient
from kindfleet.platform.hub.testing import HubProcess
from kindfleet.platform.wire import WorkloadState

RUNS = 5


@pytest.fixture
def disk(tmp_path: Path):
    with small_disk(tmp_path / "disk") as path:
        yield path


def _acknowledged(hub: HubProcess) -> int:
    conn = sqlite3.connect(f"file:{hub.home / 'hub.db'}?mode=ro", uri=True)
    try:
        query = "SELECT count(*) FROM kf_workloads WHERE state = 'Assigned' AND accepted"
        return int(conn.execute(query).fetchone()[0])
    finally:
        conn.close()


def test_accepts_lost_with_the_agent_are_delivered_again(tmp_path: Path, disk: Path):
    marks = tmp_path / "marks"
    marks.mkdir()
    hub = HubProcess(tmp_path / "hub").start()
    joined = types.SimpleNamespace(bootstrap_token=hub.join_token("spoke1"))
    # No telemetry commit between the disk filling and the work arriving: the accepts must
    # be the first writes refused (a refused write makes the spoke offer no capacity).
    quiet = ["--telemetry-seconds", "3600"]
    agent = AgentProc(tmp_path, types.SimpleNamespace(url=hub.url, double=joined), "spoke1", quiet)
    agent.state_dir = disk / "state"
    client = HubClient(hub.url, hub.client_token)
    try:
        agent.start()
        wait_until(lambda: "hub reports this spoke Ready" in agent.log(), what="the spoke")
        fill(disk)
        mark = f"echo ran >> {marks}/$KINDFLEET_WORKLOAD_ID"
        ids = [
            client.submit(
                {"name": "w", "command": ["sh", "-c", mark]}, idempotency_key=f"k{i}"
            ).workload.id
            for i in range(RUNS)
        ]
        wait_until(lambda: _acknowledged(hub) == RUNS, what="heartbeats holding the accepts")
        agent.kill9()
        (disk / "fill").unlink()
        agent.start()
        wait_until(
            lambda: all(client.get(w).state is WorkloadState.SUCCEEDED for w in ids),
            timeout=30,
            what="the lost accepts to be sent again and run",
        )
        assert sorted(p.read_text() for p in marks.iterdir()) == ["ran\n"] * RUNS  # once each
        assert "no longer holds" in hub.log()
    finally:
        client.close()
        agent.cleanup()
        hub.kill()
