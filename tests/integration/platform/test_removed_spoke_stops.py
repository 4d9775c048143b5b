"""An agent cut off while the hub moved its work and an operator removed its spoke (or
another agent took the name) stops that work when it is back. A real hub and a real
agent; the cut is the agent process stopped (SIGSTOP), its runs going on meanwhile, as
across a partition.

Found from outside: the hub revoked the credential, the agent back got only 401, took it
for a credential to replace, could not (its join token was spent), and so never heard the
hub's `stop`: its run went on beside the copy placed elsewhere, for as long as it lasted.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import psutil
import pytest

from kindfleet.platform.hub.testing import HubProcess

HUB_ARGS = [
    "--heartbeat-seconds", "0.5", "--lease-seconds", "2", "--lost-after-seconds", "4",
    "--tick-seconds", "0.2",
]  # fmt: skip


def _agent(hub: HubProcess, tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    tmp_path.mkdir(exist_ok=True)
    token = tmp_path / f"{name}.token"
    token.write_text(hub.join_token(name))
    token.chmod(0o600)
    return subprocess.Popen(
        [
            sys.executable, "-m", "kindfleet.platform.agent", "--hub", hub.url,
            "--name", name, "--state-dir", str(tmp_path / name),
            "--bootstrap-token-file", str(token), "--log-file", str(tmp_path / f"{name}.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _until(what: str, check, seconds: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"no {what} in {seconds:g}s"
        time.sleep(0.1)
    return found


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_an_agent_back_from_a_cut_stops_the_work_the_hub_moved(tmp_path: Path, how: str):
    with HubProcess(tmp_path / "hub", extra_args=HUB_ARGS) as hub:
        client = {"Authorization": f"Bearer {hub.client_token}"}
        agent = _agent(hub, tmp_path, "s1")
        others: list[subprocess.Popen[bytes]] = []
        try:
            pidfile = tmp_path / "run.pid"
            spec = {
                "name": "w",
                "command": ["sh", "-c", f"echo $$ > {pidfile}; exec sleep 300"],
                "retry": {"max_retries": 1},
            }
            sent = httpx2.post(
                f"{hub.url}/v1/workloads", json=spec, headers={**client, "Idempotency-Key": "k"}
            )
            wid = sent.json()["workload"]["id"]
            _until("Running", lambda: _get(hub, client, wid)["state"] == "Running")
            run = psutil.Process(int(_until("pid file", lambda: pidfile.read_text().strip())))

            agent.send_signal(signal.SIGSTOP)  # cut off; its run goes on
            _until("Lost", lambda: _health(hub, client).get("s1") == "Lost")
            _until("the work moved", lambda: _get(hub, client, wid)["state"] == "Pending")
            if how == "removed":
                removed = httpx2.delete(f"{hub.url}/v1/spokes/s1", headers=client)
                assert removed.status_code == 200, removed.text
            else:  # a new agent under the name, with a join token of its own
                others.append(_agent(hub, tmp_path / "new", "s1"))
                _until("the new s1", lambda: _health(hub, client).get("s1") == "Ready")
            assert run.is_running()
            agent.send_signal(signal.SIGCONT)

            _until("the old run stopped", lambda: not _alive(run), seconds=30)
            said = "removed by an operator" if how == "removed" else "registered again"
            _until(f"{said!r} in the log", lambda: said in (tmp_path / "s1.log").read_text())
            assert agent.poll() is None  # the agent goes on, without the work
        finally:
            for proc in (agent, *others):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGCONT)
                    proc.kill()
                    proc.wait()


def _alive(run: psutil.Process) -> bool:
    try:
        return run.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _get(hub: HubProcess, client: dict[str, str], wid: str) -> dict:
    return httpx2.get(f"{hub.url}/v1/workloads/{wid}", headers=client).json()


def _health(hub: HubProcess, client: dict[str, str]) -> dict[str, str]:
    spokes = httpx2.get(f"{hub.url}/v1/spokes", headers=client).json()["items"]
    return {s["name"]: s["health"] for s in spokes}
