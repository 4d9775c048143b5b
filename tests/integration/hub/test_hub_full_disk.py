"""The hub's store on a disk that fills up (a tmpfs of a few MB): every 2xx is in the store
and nothing else, the hub answers 503 meanwhile and takes work again once space is freed,
and its log says so in a few lines, not one per refused request (it wrote 6,111 lines in
two seconds). Needs root (to mount a tmpfs)."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest
from tests.smalldisk import grow, small_disk

from kindfleet.platform.hub.testing import HubProcess

SPEC = {"name": "train", "command": ["echo", "x" * 400]}


@pytest.fixture
def hub_on_a_small_disk(tmp_path: Path):
    with small_disk(tmp_path / "disk") as disk:
        hub = HubProcess(tmp_path / "hub", store=f"sqlite:///{disk}/hub.db")
        try:
            yield hub.start(), disk
        finally:
            hub.kill()


def _submit_many(hub: HubProcess, tag: str, n: int) -> list[tuple[int, str | None]]:
    """(status, workload id if acknowledged) of `n` submissions from 8 connections."""

    def one(client: httpx2.Client, i: int) -> tuple[int, str | None]:
        headers = {"Idempotency-Key": f"{tag}-{i}"}
        answer = client.post("/v1/workloads", json=SPEC, headers=headers, timeout=30)
        ok = answer.status_code in (200, 201)
        return answer.status_code, answer.json()["workload"]["id"] if ok else None

    auth = {"Authorization": f"Bearer {hub.client_token}"}
    clients = [httpx2.Client(base_url=hub.url, headers=auth) for _ in range(8)]
    try:
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda i: one(clients[i % 8], i), range(n)))
    finally:
        for client in clients:
            client.close()


def test_a_full_store_disk_refuses_with_503_loses_nothing_and_recovers(hub_on_a_small_disk):
    hub, disk = hub_on_a_small_disk
    began = time.monotonic()
    answers = _submit_many(hub, "fill", 3000)
    statuses = {status for status, _ in answers}
    assert statuses == {201, 503}, statuses  # it filled up, and said so
    assert httpx2.get(f"{hub.url}/readyz", timeout=30).status_code == 503
    log = hub.log()
    windows = 1 + int((time.monotonic() - began) / 10)  # a line at most per 10 s, per kind
    for said in (
        "store operation failed: database or disk is full",
        "store unavailable, answering 503",
    ):
        lines = [line for line in log.splitlines() if said in line]
        assert lines and "more like it" not in lines[0], log[-2000:]  # said when first met
        assert all("more like it in the last" in line for line in lines[1:]), lines
        assert len(lines) <= windows, (windows, lines)  # not once per refused request

    grow(disk)
    later = _submit_many(hub, "after", 50)
    assert {status for status, _ in later} == {201}
    assert httpx2.get(f"{hub.url}/readyz", timeout=30).status_code == 200
    assert "the store commits again" in hub.log()
    assert hub.stop() == 0

    acknowledged = {wid for _, wid in answers + later if wid is not None}
    conn = sqlite3.connect(disk / "hub.db")
    try:
        stored = {wid for (wid,) in conn.execute("SELECT id FROM kf_workloads")}
    finally:
        conn.close()
    assert stored == acknowledged  # every 2xx kept, nothing refused stored
