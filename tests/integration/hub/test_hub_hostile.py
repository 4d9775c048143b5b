"""A real hub process attacked the way a hostile or careless client would (issue 9): an
impostor with a valid join token, racing registrations, slow and idle connections, readers
hammering the hub while a spoke renews its lease, bad content types, NUL bytes, trailing
newlines in query values, forged log lines, and what it leaves on disk."""

from __future__ import annotations

import concurrent.futures
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2
import psutil
import pytest

from kindfleet.platform.client import HubClient
from kindfleet.platform.hub.testing import HubProcess

CAPACITY = {"cpu_millis": 4000, "memory_bytes": 2**33, "gpus": 0}
SPEC = {"name": "train", "command": ["python", "train.py"]}


@pytest.fixture
def hub(tmp_path: Path):
    process = HubProcess(
        tmp_path / "hub",
        extra_args=[
            "--header-timeout-seconds", "1", "--body-timeout-seconds", "1",
            "--keep-alive-seconds", "2", "--tick-seconds", "0.2",
        ],
    )  # fmt: skip
    with process:
        yield process


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register(hub: HubProcess, name: str, token: str, **body) -> httpx2.Response:
    return httpx2.post(
        f"{hub.url}/v1/spokes/register",
        json={"name": name, "capacity": CAPACITY, "executor": "process", **body},
        headers=bearer(token),
    )


def beat(hub: HubProcess, name: str, credential: str) -> httpx2.Response:
    return httpx2.post(
        f"{hub.url}/v1/spokes/{name}/heartbeat",
        json={"capacity": CAPACITY},
        headers=bearer(credential),
        timeout=30,
    )


# ---------------------------------------------------------------- spoke identity


def test_an_impostor_with_a_join_token_gets_neither_the_name_nor_its_work(hub):
    real = register(hub, "local-cpu1", hub.join_token("local-cpu1"))
    assert real.status_code == 200, real.text
    credential = real.json()["credential"]
    assert beat(hub, "local-cpu1", credential).status_code == 200
    with HubClient(hub.url, hub.client_token) as client:
        secret = {**SPEC, "env": {"DB_PASSWORD": "hunter2"}}
        wid = client.submit(secret).workload.id

    stolen = hub.join_token("local-cpu1")  # a valid token for the name, in the wrong hands
    impostor = register(hub, "local-cpu1", stolen)
    assert impostor.status_code == 409
    assert "live" in impostor.json()["detail"] and "hunter2" not in impostor.text
    assert beat(hub, "local-cpu1", credential).status_code == 200  # never revoked
    polled = httpx2.get(
        f"{hub.url}/v1/spokes/local-cpu1/assignments", headers=bearer(credential), timeout=10
    )
    assert [a["workload"] for a in polled.json()["items"]] == [wid]
    assert register(hub, "local-cpu1", "kfjoin.000000000000." + "x" * 43).status_code == 401
    assert register(hub, "other", stolen).status_code == 403  # bound to local-cpu1
    rotated = register(hub, "local-cpu1", credential)  # the spoke's own credential: rotation
    assert rotated.status_code == 200
    assert beat(hub, "local-cpu1", credential).status_code == 401
    assert beat(hub, "local-cpu1", rotated.json()["credential"]).status_code == 200


def test_racing_registrations_one_wins(hub):
    tokens = [hub.join_token("raced") for _ in range(8)]
    barrier = threading.Barrier(len(tokens))

    def attempt(token: str) -> int:
        barrier.wait()
        return register(hub, "raced", token).status_code

    with concurrent.futures.ThreadPoolExecutor(len(tokens)) as pool:
        codes = sorted(pool.map(attempt, tokens))
    assert codes == [200] + [409] * (len(tokens) - 1)


def test_a_join_token_is_single_use_and_expires(hub):
    token = hub.join_token("once")
    first = register(hub, "once", token)
    assert first.status_code == 200
    assert register(hub, "once", token).status_code == 401
    short = hub.join_token("brief", ttl_seconds=0.2)
    time.sleep(0.4)
    assert register(hub, "brief", short).status_code == 401


def test_the_client_token_cannot_register(hub):
    assert register(hub, "x", hub.client_token).status_code == 403


# ---------------------------------------------------------------- a hub no client can stall


def _fds(hub: HubProcess) -> int:
    return psutil.Process(hub.pid).num_fds()


def test_slow_and_idle_clients_are_closed(hub):
    before = _fds(hub)
    socks = []
    for i in range(150):
        s = socket.create_connection(("127.0.0.1", hub.port))
        if i % 3 == 0:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # half a header
        elif i % 3 == 1:
            s.sendall(  # a promised body that never comes
                b"POST /v1/workloads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n{"
            )
        socks.append(s)  # and a third that says nothing at all
    # (No check that they piled up first: on a slow machine the earliest are closed before
    # the last one is open, which is the point.)
    deadline = time.monotonic() + 20
    while _fds(hub) > before + 5:
        assert time.monotonic() < deadline, f"{_fds(hub)} fds still open (was {before})"
        time.sleep(0.2)
    for s in socks:  # each closed by the hub (after a 401, for the one that sent a head)
        s.settimeout(5)
        while s.recv(4096):
            pass
        s.close()
    assert httpx2.get(f"{hub.url}/healthz").status_code == 200


def _exchange(hub: HubProcess, request: bytes) -> bytes:
    """Send raw bytes, read until the hub closes or a whole answer came."""
    with socket.create_connection(("127.0.0.1", hub.port)) as s:
        s.sendall(request)
        s.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < 20:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def test_an_upgrade_with_a_body_is_refused_not_read_as_empty(hub):
    """Found from outside: `curl --http2` on plain HTTP sends Upgrade: h2c; the parser stopped
    at the head and the submission was answered "the body is not valid JSON: EOF". A body
    with an Upgrade is now refused, saying what to send; a GET with one is answered."""
    body = b'{"name": "a", "command": ["true"]}'
    head = (
        b"POST /v1/workloads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + hub.client_token.encode()
        + b"\r\nIdempotency-Key: h2c-1\r\nContent-Type: application/json\r\n"
        b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n"
    )
    answer = _exchange(hub, head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"send the request as plain HTTP/1.1, without Upgrade" in answer
    with HubClient(hub.url, hub.client_token) as client:
        assert client.list_workloads().items == []  # nothing was made of it
    get = _exchange(
        hub,
        b"GET /v1/workloads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + hub.client_token.encode()
        + b"\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
    )
    assert get.startswith(b"HTTP/1.1 200"), get[:200]


def test_pipelined_requests_are_answered_whole_and_in_order_before_close(hub):
    """The hub holds a turn's writes to send them as one (`connections.Coalesced`): answers
    to requests sent in one go still come back each whole, in their order, the last one
    before the connection closes."""
    auth = b"Authorization: Bearer " + hub.client_token.encode() + b"\r\n"
    requests = b""
    for i in range(20):
        body = b'{"name": "p%d", "command": ["true"]}' % i
        requests += (
            b"POST /v1/workloads HTTP/1.1\r\nHost: x\r\n" + auth
            + b"Idempotency-Key: pipe-%d\r\nContent-Type: application/json\r\n" % i
            + b"Content-Length: %d\r\n\r\n" % len(body) + body
        )  # fmt: skip
    requests += b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    names = [(head.split(b" ")[1], body) for head, body in _exchanged(hub, requests)]
    assert [status for status, _ in names] == [b"201"] * 20 + [b"200"]
    assert [json.loads(b)["workload"]["spec"]["name"] for _, b in names[:20]] == [
        f"p{i}" for i in range(20)
    ]


def test_a_client_that_half_closes_after_its_request_gets_its_answer(hub):
    """Found from outside: a client that shuts its side right after sending (`nc -N`, some
    scripts) got nothing once the hub held a turn's writes: the transport closed itself on
    the client's FIN and the held answer was dropped as if the connection were gone.
    (The same for an answer made on another thread, `/v1/spokes`, which uvicorn alone never
    sent to such a client: it took the half-close for a disconnection.)"""
    auth = b"Authorization: Bearer " + hub.client_token.encode() + b"\r\n"
    cases = [(b"/healthz", b""), (b"/v1/workloads", auth), (b"/v1/nope", auth)]
    for path, extra in [*cases, (b"/v1/spokes", auth)]:
        for _ in range(10):
            answers = _half_closed(
                hub, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n"
            )
            assert len(answers) == 1 and answers[0].startswith(b"HTTP/1.1 "), (path, answers)
    pipelined = b"".join(
        b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n" for path, extra in cases
    )
    assert [a.split(b" ")[1] for a in _half_closed(hub, pipelined)] == [b"200", b"200", b"404"]


def test_a_body_cut_short_by_a_half_close_ends_the_connection(tmp_path):
    """A client that shuts its side before its body is whole sends no more of it: the
    connection ends at once, not at the body deadline (60 s here)."""
    with HubProcess(tmp_path / "hub") as hub:
        head = (
            b"POST /v1/workloads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + hub.client_token.encode()
            + b"\r\nIdempotency-Key: cut-1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n"
        )
        started = time.monotonic()
        _half_closed(hub, head + b'{"name": ')
        assert time.monotonic() - started < 30
        with HubClient(hub.url, hub.client_token) as client:
            assert client.list_workloads().items == []


def _half_closed(hub: HubProcess, requests: bytes) -> list[bytes]:
    """Send `requests`, shut the sending side, read to the end: the answers' heads."""
    return [head for head, _ in _exchanged(hub, requests, half_close=True)]


def _exchanged(
    hub: HubProcess, requests: bytes, *, half_close: bool = False
) -> list[tuple[bytes, bytes]]:
    """Send `requests` on one connection (then shut the sending side, if `half_close`), read
    until the hub closes it: each answer whole, as (head, body)."""
    with socket.create_connection(("127.0.0.1", hub.port)) as s:
        s.sendall(requests)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        s.settimeout(50)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    answers = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(head.lower().partition(b"content-length: ")[2].split(b"\r\n")[0])
        assert len(rest) >= length, head
        answers.append((head, rest[:length]))
        data = rest[length:]
    return answers


def test_a_long_poll_is_not_cut_by_the_deadlines(hub):
    token = hub.join_token("poller")
    credential = register(hub, "poller", token).json()["credential"]
    started = time.monotonic()
    polled = httpx2.get(
        f"{hub.url}/v1/spokes/poller/assignments?wait=3", headers=bearer(credential), timeout=10
    )
    assert polled.status_code == 200 and time.monotonic() - started >= 2.9


READERS = """
import sys, threading, time, httpx2
url, token, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
end = time.monotonic() + seconds
def read():
    with httpx2.Client(headers={"Authorization": "Bearer " + token}, timeout=120) as http:
        while time.monotonic() < end:
            http.get(url + "/v1/workloads?limit=1000")
threads = [threading.Thread(target=read) for _ in range(int(sys.argv[4]))]
for t in threads: t.start()
for t in threads: t.join()
"""


@pytest.mark.slow
def test_readers_never_make_a_live_spoke_not_ready(tmp_path):
    """Dozens of clients listing 1,000 workloads each (in a process of their own) while a
    spoke renews its lease: reads run on readers, never on the writer, so the lease holds."""
    process = HubProcess(tmp_path / "readers", extra_args=["--tick-seconds", "0.2"])
    with process:
        credential = register(process, "busy", process.join_token("busy")).json()["credential"]
        with HubClient(process.url, process.client_token, timeout=60) as client:
            for chunk in range(3):
                client.submit_batch([{**SPEC, "name": f"w{chunk}-{i}"} for i in range(500)])
        readers = subprocess.Popen(
            [sys.executable, "-c", READERS, process.url, process.client_token, "15", "24"]
        )
        health: list[str] = []
        auth = bearer(process.client_token)
        try:
            while readers.poll() is None:
                assert beat(process, "busy", credential).status_code == 200
                spokes = httpx2.get(f"{process.url}/v1/spokes", headers=auth, timeout=120)
                health += [s["health"] for s in spokes.json()["items"]]
                time.sleep(1)
        finally:
            readers.kill()
            readers.wait()
    assert health and set(health) == {"Ready"}


# ---------------------------------------------------------------- bad input and leaks


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {},
    ],
)
def test_a_body_that_is_not_json_is_415(hub, headers):
    body = b'{"name": "train", "command": ["x"]}'
    for path in ("/v1/workloads", "/v1/workloads:batch"):
        response = httpx2.post(
            f"{hub.url}{path}",
            content=body,
            headers={**bearer(hub.client_token), "Idempotency-Key": "k", **headers},
        )
        assert response.status_code == 415, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("header", ["Idempotency-Key", "Content-Type", "Authorization"])
def test_a_repeated_header_is_refused_by_name(hub, header):
    """Two Idempotency-Key lines were read as the first (k1's workload made, k2 unsaid);
    two Content-Types, two Authorizations (the client's, then anything) likewise. Raw
    lines: an HTTP client would merge them."""
    lines = {
        "Idempotency-Key": ["k1", "k2"],
        "Content-Type": ["application/json"] * 2,
        "Authorization": [f"Bearer {hub.client_token}", "Bearer not-a-token"],
    }
    sent = [(h, v[0]) for h, v in lines.items() if h != header]
    sent += [(header, v) for v in lines[header]]
    body = b'{"name": "train", "command": ["x"]}'
    head = "".join(f"{h}: {v}\r\n" for h, v in sent)
    request = (
        f"POST /v1/workloads HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {len(body)}"
        "\r\nConnection: close\r\n\r\n"
    ).encode() + body
    host, port = hub.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        answer = b"".join(iter(lambda: conn.recv(65536), b""))
    status = b"401" if header == "Authorization" else b"422"
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:300]
    assert f"{header}: the request repeats it (2 times): send it once".encode() in answer
    listed = httpx2.get(f"{hub.url}/v1/workloads", headers=bearer(hub.client_token)).json()
    assert listed["items"] == []  # nothing stored under either key


def test_nul_bytes_are_422(hub):
    for spec in (
        {**SPEC, "command": ["python", "a\x00b"]},
        {**SPEC, "env": {"DB_PASSWORD": "x\x00"}},
    ):
        response = httpx2.post(
            f"{hub.url}/v1/workloads",
            json=spec,
            headers={**bearer(hub.client_token), "Idempotency-Key": "nul"},
        )
        assert response.status_code == 422, response.text


def test_query_values_are_matched_whole(hub):
    for query in ("spoke=local-cpu1%0A", "spoke=a%00", "cursor=1%0A", "state=Pending%0A"):
        response = httpx2.get(f"{hub.url}/v1/workloads?{query}", headers=bearer(hub.client_token))
        assert response.status_code == 422, (query, response.text)
    many = "&".join(f"label=k{i}=v" for i in range(998))
    response = httpx2.get(f"{hub.url}/v1/workloads?{many}", headers=bearer(hub.client_token))
    assert response.status_code == 422
    assert "Expression tree" not in response.text and "SQL" not in response.text


def test_log_lines_cannot_be_forged(hub):
    forged = "x\n2099-01-01 00:00:00,000 INFO kindfleet.hub: spoke evil registered"
    token = hub.join_token("honest")
    assert register(hub, "honest", token, labels={"note": forged[:63]}).status_code == 200
    hub.stop()
    lines = hub.log().splitlines()
    assert not any(line.startswith("2099-01-01") for line in lines)
    assert any("\\n2099-01-01" in line for line in lines)


def test_the_hub_leaves_nothing_readable_by_others(hub):
    with HubClient(hub.url, hub.client_token) as client:
        client.submit({**SPEC, "env": {"DB_PASSWORD": "hunter2"}})
    home = hub.home
    for name in ("hub.db", "hub.db-wal", "hub.db-shm", "hub.db.hub-lock", "hub.log", "hub.port"):
        mode = stat.S_IMODE(os.stat(home / name).st_mode)
        assert mode == 0o600, f"{name} is {oct(mode)}"
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
