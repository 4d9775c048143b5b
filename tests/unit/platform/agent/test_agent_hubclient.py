"""The spoke side of the protocol: requests as the contract says, and every failure sorted
into what the agent should do about it, with no token in any message."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiohttp import web
from tests.doubles.webserver import serving

from kindfleet.platform.agent.hubclient import (
    HubClient,
    HubRefused,
    HubUnauthorized,
    HubUnavailable,
)
from kindfleet.platform.wire import (
    AssignmentBatch,
    Capacity,
    EventAck,
    EventBatch,
    HeartbeatRequest,
    RegisterRequest,
)

TOKEN = "cred-SECRET-4e1b"
CAP = Capacity(cpu_millis=1000, memory_bytes=1 << 30)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Seen], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def hub(handler: Handler, **client: float) -> AsyncIterator[tuple[HubClient, list[Seen]]]:
    """A real HTTP server on a free port answering every request with `handler`."""
    seen: list[Seen] = []

    async def answer(request: web.Request) -> web.StreamResponse:
        got = Seen(
            request.method,
            request.path,
            dict(request.query),
            {k.lower(): v for k, v in request.headers.items()},
            await request.read(),
        )
        seen.append(got)
        return await handler(got)

    async with serving(answer) as url:
        hub_client = HubClient(url, **client)
        try:
            yield hub_client, seen
        finally:
            await hub_client.aclose()


def answering(status: int, data: object) -> Handler:
    async def handler(_: Seen) -> web.StreamResponse:
        return web.json_response(data, status=status)

    return handler


async def test_requests_follow_the_contract():
    async def handler(got: Seen) -> web.StreamResponse:
        if got.path.endswith("/register"):
            return web.json_response(
                {
                    "spoke": "s1",
                    "credential": "c",
                    "heartbeat_seconds": 2,
                    "lease_seconds": 6,
                    "lost_after_seconds": 30,
                }
            )
        if got.path.endswith("/heartbeat"):
            return web.json_response({"health": "Ready", "heartbeat_seconds": 2})
        if got.path.endswith("/assignments"):
            return web.json_response({"items": []})
        return web.json_response({"acked_through": 7})

    async with hub(handler) as (client, seen):
        reg = await client.register(
            "boot", RegisterRequest(name="s1", capacity=CAP, executor="process"), store="st-1"
        )
        assert reg.credential == "c"
        await client.heartbeat("s1", TOKEN, HeartbeatRequest(capacity=CAP))
        assert await client.assignments("s1", TOKEN, wait=20) == AssignmentBatch(items=[])
        assert await client.post_events("s1", TOKEN, EventBatch()) == EventAck(acked_through=7)

    assert [(r.method, r.path) for r in seen] == [
        ("POST", "/v1/spokes/register"),
        ("POST", "/v1/spokes/s1/heartbeat"),
        ("GET", "/v1/spokes/s1/assignments"),
        ("POST", "/v1/spokes/s1/events"),
    ]
    assert seen[0].headers["authorization"] == "Bearer boot"
    assert seen[0].headers["kindfleet-store"] == "st-1"
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in seen[1:])
    assert all(r.headers["user-agent"] == "kindfleet-agent" for r in seen)
    assert seen[0].headers["content-type"] == "application/json"
    assert json.loads(seen[0].body)["name"] == "s1"
    assert seen[2].query == {"wait": "20"}


async def test_the_long_poll_outlives_the_request_timeout_by_its_wait():
    async def slow(_: Seen) -> web.StreamResponse:
        await asyncio.sleep(0.6)
        return web.json_response({"items": []})

    async with hub(slow, request_timeout=0.4) as (client, _):
        assert await client.assignments("s1", TOKEN, wait=0.5) == AssignmentBatch(items=[])
        with pytest.raises(HubUnavailable, match="no answer in time"):
            await client.post_events("s1", TOKEN, EventBatch())  # 0.6 s > 0.4 s


async def test_a_redirect_is_not_followed():
    async def moved(_: Seen) -> web.StreamResponse:
        raise web.HTTPTemporaryRedirect("http://127.0.0.1:9/elsewhere")

    async with hub(moved) as (client, seen):
        with pytest.raises(HubUnavailable, match="not a EventAck"):
            await client.post_events("s1", TOKEN, EventBatch())
        assert len(seen) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, HubUnauthorized),
        (403, HubUnauthorized),
        (429, HubUnavailable),
        (500, HubUnavailable),
        (503, HubUnavailable),
        (404, HubRefused),
        (422, HubRefused),
    ],
)
async def test_status_codes_are_sorted(status, error):
    async with hub(answering(status, {"title": "no", "detail": "why"})) as (client, _):
        with pytest.raises(error) as caught:
            await client.heartbeat("s1", TOKEN, HeartbeatRequest(capacity=CAP))
    assert caught.value.status == status
    assert TOKEN not in str(caught.value)
    if error is HubRefused:
        assert "why" in str(caught.value)


async def test_an_unreadable_answer_is_unavailable():
    async with hub(answering(200, {"surprise": True})) as (client, _):
        with pytest.raises(HubUnavailable, match="not a EventAck"):
            await client.post_events("s1", TOKEN, EventBatch())


async def test_no_hub_listening_is_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    client = HubClient(f"http://127.0.0.1:{port}", request_timeout=2)
    with pytest.raises(HubUnavailable) as caught:
        await client.heartbeat("s1", TOKEN, HeartbeatRequest(capacity=CAP))
    assert TOKEN not in str(caught.value)
    await client.aclose()


async def test_a_silent_hub_times_out_as_unavailable():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()  # accepts connections, never answers
        client = HubClient(f"http://127.0.0.1:{server.getsockname()[1]}", request_timeout=0.3)
        with pytest.raises(HubUnavailable, match="no answer in time"):
            await client.post_events("s1", TOKEN, EventBatch())
        await client.aclose()


async def test_an_https_hub_nobody_vouches_for_is_refused(self_signed):
    """An https:// hub is verified (the system's CA, SSL_CERT_FILE honoured): a
    self-signed one is not talked to."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answering(200, {"acked_through": 1}))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self_signed).start()
    client = HubClient(f"https://127.0.0.1:{runner.addresses[0][1]}", request_timeout=5)
    try:
        with pytest.raises(HubUnavailable, match="Certificate") as caught:
            await client.post_events("s1", TOKEN, EventBatch())
        assert TOKEN not in str(caught.value)
    finally:
        await client.aclose()
        await runner.cleanup()
