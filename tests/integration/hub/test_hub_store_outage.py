"""A PostgreSQL store that goes away under a running hub and comes back.

Found from outside (PostgreSQL killed under a stream of submissions, then started again):
the hub never answered again. On the connection's loss the writer thread touched the
invalidated connection, which tried to connect again, raised while the server was down,
and ended the thread: every request after it waited for ever, with no 503, nothing in the
log and `/healthz` unanswered, also once PostgreSQL was back. And once it was back, the
first read on each reader's old connection failed with a 503 while the store was up.
Now: 503 while it is down, served again as soon as it is back, without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from tests.integration.hub.conftest import PostgresServer, _pg_binary

from kindfleet.platform.hub.testing import HubProcess

SPEC = {"name": "train", "command": ["python", "train.py"]}


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A server of this test's own: it is stopped and started under the hub."""
    if not (_pg_binary("initdb") and _pg_binary("pg_ctl")):
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found")
    server = PostgresServer()
    server.start()
    try:
        with server.admin() as conn:
            conn.execute("CREATE DATABASE outage")
        yield server
    finally:
        server.stop()


def _submit(client: httpx2.Client, key: str) -> httpx2.Response:
    return client.post("/v1/workloads", json=SPEC, headers={"Idempotency-Key": key})


@pytest.mark.slow
def test_a_hub_answers_503_while_postgresql_is_down_and_serves_once_it_is_back(
    own_postgres: PostgresServer, tmp_path: Path
):
    hub = HubProcess(tmp_path / "hub", store=own_postgres.url("outage")).start()
    auth = {"Authorization": f"Bearer {hub.client_token}"}
    try:
        with httpx2.Client(base_url=hub.url, headers=auth, timeout=20) as client:
            first = _submit(client, "before")
            assert first.status_code == 201, first.text
            wid = first.json()["workload"]["id"]
            assert client.get(f"/v1/workloads/{wid}").status_code == 200  # a reader connects

            own_postgres.halt()
            for key in ("down-1", "down-2"):  # answered, not held: the writer lives on
                down = _submit(client, key)
                assert down.status_code == 503, down.text
            assert client.get(f"/v1/workloads/{wid}").status_code == 503

            own_postgres.resume()
            again = _submit(client, "down-1")  # the client's retry of what was refused
            assert again.status_code == 201, again.text
            assert client.get(f"/v1/workloads/{wid}").status_code == 200  # on the first try
            listed = client.get("/v1/workloads", params={"limit": 10}).json()["items"]
            assert sorted(w["id"] for w in listed) == sorted([wid, again.json()["workload"]["id"]])
    finally:
        hub.stop()
    assert "Traceback" not in hub.log()
