"""The spoke side of the protocol: requests as the contract says, and every failure sorted
into what the agent should do about it, with no token in any message."""

from __future__ import annotations

import json
import socket
import ssl

import httpx2
import pytest

from kindfleet.platform.agent.hubclient import (
    HubClient,
    HubRefused,
    HubUnauthorized,
    HubUnavailable,
    tls_context,
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


def _client(handler) -> HubClient:
    return HubClient("http://hub.test/", transport=httpx2.MockTransport(handler))


async def test_requests_follow_the_contract():
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        path = request.url.path
        if path.endswith("/register"):
            return httpx2.Response(
                200,
                json={
                    "spoke": "s1",
                    "credential": "c",
                    "heartbeat_seconds": 2,
                    "lease_seconds": 6,
                    "lost_after_seconds": 30,
                },
            )
        if path.endswith("/heartbeat"):
            return httpx2.Response(200, json={"health": "Ready", "heartbeat_seconds": 2})
        if path.endswith("/assignments"):
            return httpx2.Response(200, json={"items": []})
        return httpx2.Response(200, json={"acked_through": 7})

    client = _client(handler)
    reg = await client.register(
        "boot", RegisterRequest(name="s1", capacity=CAP, executor="process")
    )
    assert reg.credential == "c"
    await client.heartbeat("s1", TOKEN, HeartbeatRequest(capacity=CAP))
    assert await client.assignments("s1", TOKEN, wait=20) == AssignmentBatch(items=[])
    assert await client.post_events("s1", TOKEN, EventBatch()) == EventAck(acked_through=7)
    await client.aclose()

    assert [(r.method, r.url.path) for r in seen] == [
        ("POST", "/v1/spokes/register"),
        ("POST", "/v1/spokes/s1/heartbeat"),
        ("GET", "/v1/spokes/s1/assignments"),
        ("POST", "/v1/spokes/s1/events"),
    ]
    assert seen[0].headers["authorization"] == "Bearer boot"
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in seen[1:])
    assert json.loads(seen[0].content)["name"] == "s1"
    assert seen[2].url.params["wait"] == "20"
    assert seen[2].extensions["timeout"]["read"] > 20  # the long-poll outlives its wait


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
    client = _client(lambda r: httpx2.Response(status, json={"title": "no", "detail": "why"}))
    with pytest.raises(error) as caught:
        await client.heartbeat("s1", TOKEN, HeartbeatRequest(capacity=CAP))
    assert caught.value.status == status
    assert TOKEN not in str(caught.value)
    await client.aclose()


async def test_an_unreadable_answer_is_unavailable():
    client = _client(lambda r: httpx2.Response(200, json={"surprise": True}))
    with pytest.raises(HubUnavailable, match="not a EventAck"):
        await client.post_events("s1", TOKEN, EventBatch())
    await client.aclose()


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


def test_an_http_hub_gets_a_context_that_trusts_nobody_and_an_https_hub_httpx_s_own():
    plain = tls_context("http://127.0.0.1:8080")
    assert isinstance(plain, ssl.SSLContext)
    assert plain.verify_mode is ssl.CERT_REQUIRED and plain.check_hostname
    assert plain.get_ca_certs() == [] and plain.cert_store_stats()["x509_ca"] == 0
    assert tls_context("HTTPS://hub.example:443") is True  # httpx verifies with its CA bundle
