"""Reads never wait for the writer, and each one sees one committed state of the store.

Both faces of the hub are checked (the fast paths and the FastAPI routes: `api_both`):
a list and a get answer while the writer thread is held inside an open write
transaction, and pages read during a burst of atomic batch submissions hold whole
batches only, a prefix of them, never a batch half seen.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

from tests.unit.platform.hub.conftest import SPEC

HOLD_BOUND = 30.0  # the writer is let go after this however the test goes: never a hang


async def test_reads_answer_while_the_writer_is_held(api_both: Any) -> None:
    first = (await api_both.submit("k1")).json()["workload"]["id"]
    held, release = threading.Event(), threading.Event()

    def hold(_conn: Any) -> bool:
        held.set()
        return release.wait(HOLD_BOUND)  # True only if the reads below let it go

    blocker = asyncio.ensure_future(api_both.hub.db.writer.run(hold))
    await asyncio.to_thread(held.wait, HOLD_BOUND)
    page = await api_both.http.get("/v1/workloads?limit=5", headers=api_both.client)
    one = await api_both.http.get(f"/v1/workloads/{first}", headers=api_both.client)
    release.set()
    assert await blocker, "the reads waited for the writer"
    assert page.status_code == 200
    assert [w["id"] for w in page.json()["items"]] == [first]
    assert one.status_code == 200
    assert one.json()["id"] == first


BATCHES, PER_BATCH = 25, 8


async def test_pages_read_during_a_burst_of_writes_hold_whole_batches(api_both: Any) -> None:
    pages: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def write() -> None:
        try:
            for b in range(BATCHES):
                items = [
                    {"idempotency_key": f"b{b}-{i}", "spec": {**SPEC, "labels": {"b": str(b)}}}
                    for i in range(PER_BATCH)
                ]
                response = await api_both.http.post(
                    "/v1/workloads:batch", json={"items": items}, headers=api_both.client
                )
                assert response.status_code == 201, response.text
        finally:
            done.set()

    async def read() -> None:
        while not done.is_set():
            response = await api_both.http.get("/v1/workloads?limit=1000", headers=api_both.client)
            assert response.status_code == 200
            pages.append(response.json())

    await asyncio.gather(write(), read(), read())
    pages.append(
        (await api_both.http.get("/v1/workloads?limit=1000", headers=api_both.client)).json()
    )
    for page in pages:
        seen = Counter(int(w["spec"]["labels"]["b"]) for w in page["items"])
        assert set(seen.values()) <= {PER_BATCH}, "a batch seen in part"
        assert sorted(seen) == list(range(len(seen))), "a later batch seen without an earlier"
    assert len(pages[-1]["items"]) == BATCHES * PER_BATCH
