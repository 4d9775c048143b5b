"""What deploy's integration tests need of a real hub: one started with the fleet's client
token (deploy mints the spokes' join tokens through it), and a registration with the
token a spoke's Secret holds, the way the spoke's orchestrator would register."""

from __future__ import annotations

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
