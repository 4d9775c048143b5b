"""What deploy's integration tests need of a real hub: one started with the fleet's client
token (deploy mints the spokes' join tokens through it), and a registration with the
token a spoke's Secret holds, the way the spoke's orchestrator would register."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx2

from kindfleet.platform.hub.testing import HubProcess
from kindfleet.statedir import ensure_token

CAPACITY = {"cpu_millis": 1000, "memory_bytes": 2**30, "gpus": 0}


def fleet_hub(home: Path, state: Path, fleet: str, *, host: str = "127.0.0.1") -> HubProcess:
    """A hub process (not started) that accepts the client token deploy will use for
    `fleet` under the state directory `state`, listening on `host`."""
    token = ensure_token(state / fleet / "tokens" / "client.token")
    return HubProcess(home, client_token=token, extra_args=["--host", host])


def register(url: str, spoke: str, token: str) -> int:
    """The status of registering `spoke` with `token` (200: joined)."""
    answer = httpx2.post(
        f"{url}/v1/spokes/register",
        json={"name": spoke, "capacity": CAPACITY, "executor": "kubernetes"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return answer.status_code


def gateway(network: str) -> str:
    """The host's address on a Docker network: where a node container reaches this machine."""
    out = subprocess.run(
        ["docker", "network", "inspect", network, "--format",
         "{{range .IPAM.Config}}{{.Gateway}} {{end}}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return next(a for a in out.stdout.split() if ":" not in a)  # the IPv4 gateway


def serve_node_port(node: str, host: str, port: int, node_port: int = 30080) -> None:
    """The hub's NodePort on a simulated node, answered by a real hub on this machine: the
    node (which runs no pods) forwards every connection to `host:port` (busybox nc)."""
    subprocess.run(
        ["docker", "exec", "-d", node, "busybox", "nc", "-ll", "-p", str(node_port),
         "-e", "busybox", "nc", host, str(port)],
        check=True, capture_output=True,
    )  # fmt: skip
