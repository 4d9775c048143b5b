"""`kindfleet spokes` as an operator types it, against a real local fleet (hub and agents
as processes, each agent joined with a join token of its own), and an impostor that holds
a valid join token for a live spoke's name."""

from __future__ import annotations

import json
import sys
import time

import httpx2
import pytest
from tests.integration.platform.conftest import FLEET

from kindfleet.fleetspec import from_text
from kindfleet.providers.local import LocalLayout

pytestmark = pytest.mark.slow

CAPACITY = {"cpu_millis": 1000, "memory_bytes": 2**30, "gpus": 0}


@pytest.fixture
def fleet_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KINDFLEET_STATE_DIR", str(tmp_path / "state"))
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET)
    return path


def _spokes(cli, f):
    result = cli("spokes", *f, "-o", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def _hub_url(tmp_path):
    spec = from_text(FLEET, source="drill")
    url = LocalLayout(spec.name, tmp_path / "state").hub_url(spec.hub.name)
    assert url is not None
    return url


def test_join_drain_remove_and_no_takeover(cli, fleet_file, tmp_path):
    f = ["-f", str(fleet_file)]
    up = cli("up", *f)
    assert up.code == 0, up.err
    try:
        listed = _spokes(cli, f)
        assert {s["name"] for s in listed["items"]} == {"drill-a", "drill-b", "drill-c"}
        assert all(s["approved"] and not s["draining"] for s in listed["items"])
        assert listed["guard"]["active"] is False
        assert "drill-a" in cli("spokes", *f).out

        # A join token is printed alone on stdout; it cannot take over the live drill-a.
        minted = cli("spokes", "token", "drill-a", *f, "--ttl", "5m")
        assert minted.code == 0, minted.err
        token = minted.out.strip()
        assert token.startswith("kfjoin.") and "\n" not in token
        impostor = httpx2.post(
            f"{_hub_url(tmp_path)}/v1/spokes/register",
            json={"name": "drill-a", "capacity": CAPACITY, "executor": "process"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert impostor.status_code == 409, impostor.text
        assert "live" in impostor.json()["detail"]
        other = httpx2.post(
            f"{_hub_url(tmp_path)}/v1/spokes/register",
            json={"name": "drill-b", "capacity": CAPACITY, "executor": "process"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert other.status_code == 403  # bound to drill-a

        # Drain: no new work goes there.
        assert cli("spokes", "drain", "drill-b", *f).code == 0
        assert cli("spokes", "drain", "drill-c", *f).code == 0
        assert "draining" in cli("spokes", *f).out
        ids = []
        for i in range(3):
            sub = cli("submit", *f, "-n", f"w{i}", "-o", "json", "--", sys.executable, "-c", "1")
            assert sub.code == 0, sub.err
            ids.append(json.loads(sub.out)[0]["workload"]["id"])
        deadline = time.monotonic() + 30
        while True:
            states = [json.loads(cli("workloads", w, *f, "-o", "json").out) for w in ids]
            if all(s["state"] == "Succeeded" for s in states):
                break
            assert time.monotonic() < deadline, states
            time.sleep(0.3)
        assert {s["spoke"] for s in states} == {"drill-a"}
        assert cli("spokes", "drain", "drill-b", "--undo", *f).code == 0

        # Remove: gone from the list and from every count; its credential no longer works.
        removed = cli("spokes", "remove", "drill-c", *f)
        assert removed.code == 0, removed.err
        assert "removed" in removed.err
        assert {s["name"] for s in _spokes(cli, f)["items"]} == {"drill-a", "drill-b"}
        missing = cli("spokes", "approve", "drill-c", *f)
        assert missing.code != 0 and "Traceback" not in missing.err
        metrics = httpx2.get(
            f"{_hub_url(tmp_path)}/metrics",
            headers={
                "Authorization": "Bearer "
                + (tmp_path / "state" / "drill" / "tokens" / "client.token").read_text().strip()
            },
        ).text
        assert "kindfleet_hub_disruption_guard 0.0" in metrics
        assert 'kindfleet_hub_spokes{health="Ready"} 2.0' in metrics or "Ready" in metrics
    finally:
        assert cli("down", *f).code == 0
