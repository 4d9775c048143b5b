"""A spoke's state directory restored from an older copy (a machine snapshot put back): a
real agent against a real hub.

Found from outside: the hub had applied this spoke's reports up to a number the restored
outbox had not reached, so every report after the restore was taken for a redelivery and
ignored. The runs it started were never reported: once they ended, the hub saw them held by
no one and placed them again, and each ran twice (generation 2). Now the agent numbers what
waits above the hub's record and sends it again: each run once, its report applied."""

from __future__ import annotations

import shutil
import types
from pathlib import Path

from agent_it_helpers import AgentProc, wait_until

from kindfleet.platform.client import HubClient
from kindfleet.platform.hub.testing import HubProcess
from kindfleet.platform.wire import WorkloadState

DONE = (WorkloadState.SUCCEEDED, WorkloadState.FAILED)


def test_a_spoke_restored_from_an_older_copy_reports_its_new_runs_once(tmp_path: Path):
    marks = tmp_path / "marks"
    marks.mkdir()
    hub = HubProcess(tmp_path / "hub").start()
    joined = types.SimpleNamespace(bootstrap_token=hub.join_token("spoke1"))
    agent = AgentProc(tmp_path, types.SimpleNamespace(url=hub.url, double=joined), "spoke1", [])
    client = HubClient(hub.url, hub.client_token)
    mark = f"echo $KINDFLEET_GENERATION >> {marks}/$KINDFLEET_WORKLOAD_ID"

    def run(keys: range) -> list[str]:
        ids = [
            client.submit(
                {"name": "w", "command": ["sh", "-c", mark], "retry": {"max_retries": 2}},
                idempotency_key=f"k{i}",
            ).workload.id
            for i in keys
        ]
        wait_until(
            lambda: all(client.get(w).state in DONE for w in ids), timeout=30, what="the runs"
        )
        return ids

    try:
        agent.start()
        run(range(2))
        assert agent.terminate() == 0
        shutil.copytree(agent.state_dir, tmp_path / "copy", symlinks=True)
        agent.start()
        run(range(2, 6))  # the hub's record of the spoke moves past the copy's
        assert agent.terminate() == 0
        shutil.rmtree(agent.state_dir)
        shutil.copytree(tmp_path / "copy", agent.state_dir, symlinks=True)
        agent.start()
        after = run(range(6, 9))
        for w in after:
            got = client.get(w)
            assert (got.state, got.generation) == (WorkloadState.SUCCEEDED, 1), got
        assert all(p.read_text() == "1\n" for p in marks.iterdir())  # each ran once
        assert len(list(marks.iterdir())) == 9
        assert "numbered again" in agent.log()
    finally:
        client.close()
        agent.cleanup()
        hub.kill()
