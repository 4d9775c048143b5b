"""`kindfleet load`'s submitter over real HTTP: every submission once, with its own key,
at most C in flight, a dropped connection sent again with the same key, refusals named as
`HubClient` names them, the rate and the duration kept."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from kindfleet.load.submitter import Plan, submit_all
from tests.doubles.webserver import serving

TOKEN = "client-SECRET-token"
BODY = b'{"name":"load","command":["true"]}'
Handler = Callable[[web.Request, bytes], Awaitable[web.StreamResponse]]


def accepting() -> tuple[Handler, dict[str, list[str]], list[int]]:
    """A hub that stores each key once (a repeat answers the same id) and counts how many
    requests are in flight at once."""
    keys: dict[str, list[str]] = {}
    flight = [0, 0]  # now, most

    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        flight[0] += 1
        flight[1] = max(flight)
        await asyncio.sleep(0.005)
        flight[0] -= 1
        key = request.headers["Idempotency-Key"]
        ids = keys.setdefault(key, [])
        ids.append(f"wl-{len(keys):020x}" if not ids else ids[0])
        status = 201 if len(ids) == 1 else 200
        return web.json_response(
            {"workload": {"id": ids[0]}, "created": status == 201}, status=status
        )

    return handler, keys, flight


@contextlib.asynccontextmanager
async def hub(handler: Handler) -> AsyncIterator[tuple[str, list[web.Request]]]:
    seen: list[web.Request] = []

    async def answer(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        assert body == BODY
        seen.append(request)
        return await handler(request, body)

    async with serving(answer) as url:
        yield url, seen


def plan(requests: int, concurrency: int = 4, **extra: float | None) -> Plan:
    return Plan(requests, concurrency, key=lambda i: f"key-{i}", began=time.monotonic(), **extra)  # type: ignore[arg-type]


class Record:
    def __init__(self) -> None:
        self.done: dict[int, tuple[str | None, str | None]] = {}

    def __call__(self, i: int, workload: str | None, error: str | None, _ms: float) -> None:
        assert i not in self.done, f"submission {i} reported twice"
        self.done[i] = (workload, error)


async def test_every_submission_goes_once_with_its_own_key_and_at_most_c_in_flight():
    handler, keys, flight = accepting()
    record = Record()
    async with hub(handler) as (url, seen):
        await submit_all(url, TOKEN, BODY, plan(40, concurrency=4), record)
    assert sorted(keys) == sorted(f"key-{i}" for i in range(40))
    assert all(len(ids) == 1 for ids in keys.values())
    assert {i: w for i, (w, _) in record.done.items()} == {
        int(k[4:]): ids[0] for k, ids in keys.items()
    }
    assert 1 < flight[1] <= 4
    first = seen[0]
    assert (first.method, first.path) == ("POST", "/v1/workloads")
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert first.headers["Content-Type"] == "application/json"


async def test_a_dropped_connection_is_sent_again_with_the_same_key():
    handler, keys, _ = accepting()
    dropped: list[str] = []

    async def flaky(request: web.Request, body: bytes) -> web.StreamResponse:
        key = request.headers["Idempotency-Key"]
        if key == "key-3" and not dropped:
            dropped.append(key)
            await handler(request, body)  # stored, then the answer is lost
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        return await handler(request, body)

    record = Record()
    async with hub(flaky) as (url, _):
        await submit_all(url, TOKEN, BODY, plan(6), record)
    assert dropped == ["key-3"]
    assert len(keys["key-3"]) == 2  # sent twice, one workload
    assert record.done[3] == (keys["key-3"][0], None)
    assert len({w for w, _ in record.done.values()}) == 6


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (422, {"title": "x", "status": 422, "detail": "bad", "errors": []}, "InvalidRequest"),
        (401, {"title": "x", "status": 401, "detail": "no"}, "HubAuthError"),
        (409, {"title": "x", "status": 409, "detail": "used"}, "ConflictError"),
        (503, {"title": "x", "status": 503, "detail": "store down"}, "HubUnavailable"),
        (500, "not a problem", "HubRequestError"),
        (201, {"no": "workload"}, "HubRequestError"),
    ],
)
async def test_refusals_are_named_as_the_client_names_them(status, body, error):
    async def refusing(_: web.Request, __: bytes) -> web.StreamResponse:
        return web.Response(body=json.dumps(body).encode(), status=status)

    record = Record()
    async with hub(refusing) as (url, _):
        await submit_all(url, TOKEN, BODY, plan(3), record)
    assert record.done == dict.fromkeys(range(3), (None, error))


async def test_a_hub_that_is_not_there_is_unavailable():
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    record = Record()
    await submit_all(f"http://127.0.0.1:{port}", TOKEN, BODY, plan(2, timeout=5), record)
    assert record.done == {0: (None, "HubUnavailable"), 1: (None, "HubUnavailable")}


async def test_the_rate_spaces_the_submissions():
    handler, keys, _ = accepting()
    async with hub(handler) as (url, _):
        started = time.monotonic()
        await submit_all(url, TOKEN, BODY, plan(11, concurrency=8, rate=50), Record())
        spent = time.monotonic() - started
    assert len(keys) == 11
    assert spent >= 10 / 50  # the last may not leave before began + 10/rate


async def test_nothing_is_sent_after_the_duration():
    handler, keys, _ = accepting()
    record = Record()
    async with hub(handler) as (url, _):
        await submit_all(url, TOKEN, BODY, plan(5, stop_at=time.monotonic() - 1), record)
    assert keys == {} and record.done == {}
