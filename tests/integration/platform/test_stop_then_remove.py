"""The flow docs/platform.md gives an operator: stop a spoke's agent, then remove the spoke.
A real hub and a real agent. The agent's runs are stopped and reported failed on its way
out, and their retries were placed back on the spoke (still Ready) and sent to the poll the
agent had just closed: the stopped spoke then "held" work and its removal was refused for
the whole loss window, with advice the operator had already followed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from kindfleet.platform.hub.testing import HubProcess


def test_a_spoke_whose_agent_was_stopped_is_removed_at_once(tmp_path: Path):
    with HubProcess(tmp_path / "hub") as hub:
        client = {"Authorization": f"Bearer {hub.client_token}"}
        token = tmp_path / "join.token"
        token.write_text(hub.join_token("s1"))
        token.chmod(0o600)
        agent = subprocess.Popen(
            [
                sys.executable, "-m", "kindfleet.platform.agent", "--hub", hub.url,
                "--name", "s1", "--state-dir", str(tmp_path / "s1"),
                "--bootstrap-token-file", str(token), "--log-file", str(tmp_path / "agent.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            spec = {"name": "w", "command": ["sleep", "300"], "retry": {"max_retries": 2}}
            sent = httpx2.post(
                f"{hub.url}/v1/workloads", json=spec, headers={**client, "Idempotency-Key": "k"}
            )
            wid = sent.json()["workload"]["id"]
            deadline = time.monotonic() + 60
            while _get(hub, client, wid)["state"] != "Running":
                assert time.monotonic() < deadline, _get(hub, client, wid)
                time.sleep(0.1)
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(60) == 0
            removed = httpx2.delete(f"{hub.url}/v1/spokes/s1", headers=client)
            assert removed.status_code == 200, removed.text
            after = _get(hub, client, wid)
            assert (after["state"], after["spoke"]) == ("Pending", None), after
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait()


def _get(hub: HubProcess, client: dict[str, str], wid: str) -> dict:
    return httpx2.get(f"{hub.url}/v1/workloads/{wid}", headers=client).json()
