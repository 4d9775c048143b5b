"""The fast paths answer exactly what the FastAPI routes answer: status, every header,
every byte of the body, for any request hypothesis makes up.

Reads: one hub (one store, work in every state), two apps on it: with the fast paths and
without (`fast_path=False`, the routes alone); each request goes to both. Submissions:
two hubs, each with a store of its own, given the same requests in the same order, with
the same workload ids drawn (the id generator seeded alike before each request), so that
replays and conflicts happen to both alike.

The apps live for the whole module in one event loop (`asyncio.Runner`): hypothesis
drives plain functions, each example one `runner.run`.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import quote, urlencode

import httpx2
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.unit.platform.hub.conftest import SPEC, Api, busy_store, settings_for

from kindfleet.platform.hub.api import bodies
from kindfleet.platform.hub.api.app import create_app
from kindfleet.platform.hub.api.fastpath import FastPaths
from kindfleet.platform.hub.service import submit as submit_module
from kindfleet.platform.hub.testing import FakeClock

Headers = list[tuple[str, str]]
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
SMALL_BODY = 4000  # the body cap while this module runs, so that 413 is cheap to reach


class Faces:
    """Apps and their clients in one loop; `ask` sends one request to each app."""

    def __init__(self) -> None:
        self.runner = asyncio.Runner()
        self.stack = AsyncExitStack()
        self.clients: list[httpx2.AsyncClient] = []
        self.ids: list[str] = []
        self.spoke_token = ""
        self.hub: Any = None
        self.hubs: list[Any] = []
        self._kept_ids = submit_module.new_id

    async def open(self, app: Any, *, lifespan: bool) -> httpx2.AsyncClient:
        if lifespan:
            await self.stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx2.ASGITransport(app=app)
        http = httpx2.AsyncClient(transport=transport, base_url="http://hub")
        self.clients.append(await self.stack.enter_async_context(http))
        return http

    def ask(self, method: str, url: str, headers: Headers, body: bytes = b"") -> list[Answer]:
        async def one(http: httpx2.AsyncClient, seed: int) -> Answer:
            ids = random.Random(seed)  # the same ids made on each side
            submit_module.new_id = lambda: f"wl-{ids.getrandbits(80):020x}"
            r = await http.request(method, url, headers=headers, content=body)
            return r.status_code, list(r.headers.raw), r.content

        seed = random.getrandbits(64)
        return [self.runner.run(one(http, seed)) for http in self.clients]

    def close(self) -> None:
        self.runner.run(self.stack.aclose())
        self.runner.close()
        submit_module.new_id = self._kept_ids


@pytest.fixture(scope="module")
def readers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faces]:
    faces = Faces()
    tmp = tmp_path_factory.mktemp("reads")
    clock = FakeClock()
    fast = create_app(settings_for(tmp), clock=clock)
    slow = create_app(settings_for(tmp), clock=clock, service=fast.state.hub, fast_path=False)

    async def setup() -> None:
        http = await faces.open(fast, lifespan=True)
        await faces.open(slow, lifespan=False)
        api = Api(fast, http, clock)
        faces.ids = await busy_store(api)
        faces.hub = api.hub
        faces.spoke_token = api.credentials["s1"]

    faces.runner.run(setup())
    yield faces
    faces.close()


@pytest.fixture(scope="module")
def writers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faces]:
    faces = Faces()
    clock = FakeClock()
    kept = bodies.MAX_BODY
    bodies.MAX_BODY = SMALL_BODY
    for fast_path in (True, False):
        tmp = tmp_path_factory.mktemp("writes")
        app = create_app(settings_for(tmp), clock=clock, fast_path=fast_path)
        faces.runner.run(faces.open(app, lifespan=True))
    yield faces
    faces.close()
    bodies.MAX_BODY = kept


CREDENTIALS = {n: f"{n}-credential-0123456789abcdefghijklmnop" for n in ("s1", "s2", "s3")}


@pytest.fixture(scope="module")
def spokes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faces]:
    """Two hubs (fast paths, routes alone), each with spokes s1, s2 and s3 registered with
    the same credentials and the same twelve workloads placed: every report and poll then
    lands on equal state on both sides. Only the round trip speaks for s3."""
    faces = Faces()
    clock = FakeClock()
    kept = bodies.MAX_BODY
    bodies.MAX_BODY = SMALL_BODY
    apis: list[Api] = []

    async def setup(fast_path: bool) -> None:
        app = create_app(
            settings_for(tmp_path_factory.mktemp("spokes")), clock=clock, fast_path=fast_path
        )
        api = Api(app, await faces.open(app, lifespan=True), clock)
        for name, credential in CREDENTIALS.items():
            await api.register(name, credential=credential, labels={"spoke": name})
        apis.append(api)

    for fast_path in (True, False):
        faces.runner.run(setup(fast_path))
    for i in range(12):
        submitted = faces.ask("POST", "/v1/workloads", [CLIENT, ("Idempotency-Key", f"k{i}"),
                                                          JSON], _spec(name=f"w{i}"))  # fmt: skip
        faces.ids.append(json.loads(submitted[0][2])["workload"]["id"])
    for api in apis:
        faces.runner.run(api.hub.tick())
    faces.hubs = [api.hub for api in apis]
    yield faces
    faces.close()
    bodies.MAX_BODY = kept


CLIENT = ("Authorization", "Bearer client-token-unit-0123456789abcdef")
JSON = ("Content-Type", "application/json")
FLEET = ("Authorization", "Bearer bootstrap-token-unit-0123456789abcdef")
WHO = [
    [CLIENT], [], [("Authorization", "Bearer nope")], [FLEET], [CLIENT, CLIENT],
    [("Authorization", "Bearer nope"), CLIENT], [CLIENT, FLEET], [("Authorization", "")],
    [("Authorization", "bearer client-token-unit-0123456789abcdef")],
    [("Authorization", "Bearer  client-token-unit-0123456789abcdef ")],
    [("Authorization", "Basic client-token-unit-0123456789abcdef")],
]  # fmt: skip
KEYS = ["limit", "cursor", "state", "spoke", "label", "other", "", "LIMIT", "label[]", "limit "]
VALUES = [
    "", "0", "1", "3", "12", "100", "1000", "1001", "0100", "1e2", "-1", "+5", " 5", "5 ",
    "99999999999999999999", "9" * 400, "18446744073709551617", "Running", "running",
    "Pending", "Succeeded", "Nope", "s1", "S1", "s1\n", "s-", "a" * 64, "team=t1", "team=t0",
    "team=", "noequals", "=x", "a=\x01", "\x00", "a=\x00", "é=é", "\udcff", "k=" + "v" * 64,
    "k" * 318 + "=v", "team=t1\n",
]  # fmt: skip
values = st.sampled_from(VALUES) | st.text(max_size=6)
pairs = st.lists(st.tuples(st.sampled_from(KEYS), values), max_size=6)
encoded = pairs.map(lambda ps: urlencode(ps, quote_via=quote, errors="surrogatepass"))
raw = st.text(st.sampled_from("&=;%+0123456789abcdefxlimtsLIMT_.~-"), max_size=24)
queries = (
    encoded
    | raw
    | pairs.map(
        lambda ps: "&".join(
            f"{k}={v}" for k, v in ps if (k + v).isascii() and (k + v).isprintable()
        )
    )
)


def _same(answers: list[Answer]) -> None:
    fast, slow = answers
    assert fast == slow


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=queries, who=st.sampled_from(WHO))
@example(query="limit=3&label=team=t1&label=team=t0&cursor=13", who=[CLIENT])
@example(query="limit=1001", who=[CLIENT])
@example(query="label=a%00=b", who=[CLIENT])
@example(query="cursor=%EF%BC%91", who=[CLIENT])  # a fullwidth digit
@example(query="&".join(f"label=k{i}=v" for i in range(17)), who=[CLIENT])
def test_list_answers_as_the_route(readers: Faces, query: str, who: Headers) -> None:
    answers = readers.ask("GET", "/v1/workloads?" + query, who)
    _same(answers)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), who=st.sampled_from(WHO))
def test_get_answers_as_the_route(readers: Faces, data: st.DataObject, who: Headers) -> None:
    wid = data.draw(st.sampled_from(readers.ids))
    path = data.draw(
        st.sampled_from(
            [
                wid, wid.upper(), wid + "/", wid[:-1], wid + "0", "wl-00000000000000000000",
                "wl-0", "", "%77" + wid[1:], wid + "?x=1", wid + "/explain", "wl-" + "g" * 20,
            ]
        )
    )  # fmt: skip
    _same(readers.ask("GET", f"/v1/workloads/{path}", who))


def test_a_spoke_credential_reads_as_the_route_says(readers: Faces) -> None:
    spoke = [("Authorization", f"Bearer {readers.spoke_token}")]
    for url in ("/v1/workloads", f"/v1/workloads/{readers.ids[0]}"):
        answers = readers.ask("GET", url, spoke)
        assert answers[0][0] == 403
        _same(answers)


def _spec(**extra: Any) -> bytes:
    return httpx2.Request("POST", "/", json={**SPEC, **extra}).content


SPEC_BODIES = [
    _spec(), _spec(priority=5), _spec(priority=2.0), _spec(priority=True), _spec(name="Bad"),
    _spec(resources={"cpu": "10000000000"}), b'{"name": ', b"", b"[]", b"null",
    _spec(env={"K": "x" * (SMALL_BODY + 10)}), b'{"name":"a","command":["x"],"extra":1}',
]  # fmt: skip
IDEMPOTENCY = [
    [("Idempotency-Key", "k1")], [("Idempotency-Key", "k2")], [], [("Idempotency-Key", "")],
    [("Idempotency-Key", " k")], [("Idempotency-Key", "k ")], [("Idempotency-Key", "x" * 200)],
    [("Idempotency-Key", "x" * 201)], [("Idempotency-Key", "k\x7f")],
    [("Idempotency-Key", "k1"), ("Idempotency-Key", "k2")],
]  # fmt: skip
MEDIA = [
    [("Content-Type", "application/json")], [("Content-Type", "application/json; charset=utf-8")],
    [("Content-Type", "APPLICATION/JSON")], [("Content-Type", "text/plain")], [],
    [("Content-Type", "text/plain"), ("Content-Type", "application/json")],
]  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    who=st.sampled_from(WHO),
    key=st.sampled_from(IDEMPOTENCY),
    media=st.sampled_from(MEDIA),
    body=st.sampled_from(SPEC_BODIES),
)
@example(who=[CLIENT], key=IDEMPOTENCY[0], media=MEDIA[0], body=SPEC_BODIES[0])
@example(who=[CLIENT], key=IDEMPOTENCY[0], media=MEDIA[0], body=SPEC_BODIES[1])  # conflict
def test_submit_answers_as_the_route(
    writers: Faces, who: Headers, key: Headers, media: Headers, body: bytes
) -> None:
    _same(writers.ask("POST", "/v1/workloads", who + key + media, body))


def test_a_replay_answers_the_stored_workload_as_the_route(writers: Faces) -> None:
    """The fast path writes its answer from the record, not from the request: a replay
    whose labels come in another order (the same spec) shows them as stored (canonical,
    sorted), and text that JSON escapes is written as pydantic writes it."""
    headers = [CLIENT, ("Idempotency-Key", "replayed"), ("Content-Type", "application/json")]
    labels = {"a": 'say "hi"\\', "b": "é\u2028\x1f", "c": "😀"}
    first = writers.ask("POST", "/v1/workloads", headers, _spec(labels=labels))
    reordered = {"c": labels["c"], "b": labels["b"], "a": labels["a"]}
    again = writers.ask("POST", "/v1/workloads", headers, _spec(labels=reordered))
    _same(first)
    _same(again)
    assert [first[0][0], again[0][0]] == [201, 200]
    assert json.loads(again[0][2])["workload"]["spec"]["labels"] == labels
    assert list(json.loads(again[0][2])["workload"]["spec"]["labels"]) == ["a", "b", "c"]


QUERIES = [
    "", "limit=3", "limit=1000", "limit=1001", "limit=0", "limit=0100", "limit=1e2",
    "limit=abc", "limit=3&limit=4", "state=Running", "state=running", "state=Nope",
    "spoke=s1", "spoke=S1", "spoke=s1%0A", "label=team=t1", "label=team%3Dt1&label=x=y",
    "label=noequals", "label=a=%01", "cursor=5", "cursor=-1", "cursor=99999999999999999999",
    "other=1", "limit=2&cursor=9&state=Pending&label=team=t0", "limit=%00", "state=%00",
]  # fmt: skip


def test_listed_queries_answer_as_the_route(readers: Faces) -> None:
    for query in QUERIES:
        for who in WHO[:4]:
            _same(readers.ask("GET", "/v1/workloads?" + query, who))


def test_the_fast_paths_answer_well_formed_requests_themselves(readers: Faces) -> None:
    """The comparisons above mean something only if the fast paths do answer: here the
    app behind them refuses to, so every one of these is answered by `FastPaths`."""
    hub = readers.hub
    behind: list[str] = []

    async def route(scope: Any, receive: Any, send: Any) -> None:
        behind.append(scope["path"])
        raise AssertionError("the route was asked")

    fast = FastPaths(route, hub=hub)
    wid = readers.ids[0]
    urls = ["/v1/workloads", "/v1/workloads?limit=3&state=Running&label=team=t1&cursor=9",
            "/v1/workloads?spoke=s1&limit=1000", f"/v1/workloads/{wid}",
            "/v1/workloads/wl-00000000000000000000"]  # fmt: skip

    async def ask(url: str) -> int:
        transport = httpx2.ASGITransport(app=fast)
        async with httpx2.AsyncClient(transport=transport, base_url="http://hub") as http:
            return (await http.get(url, headers=[CLIENT])).status_code

    statuses = [readers.runner.run(ask(url)) for url in urls]
    assert behind == []
    assert statuses == [200, 200, 200, 200, 404]


AS = {name: [("Authorization", f"Bearer {c}")] for name, c in CREDENTIALS.items()}
SPOKE_WHO = [AS["s1"], AS["s2"], [CLIENT], [], AS["s1"] + AS["s1"],
             [("Authorization", "Bearer nope")], AS["s2"] + AS["s1"]]  # fmt: skip
SPOKE_NAMES = ["s1", "s2", "s9", "S1", "-s", "a" * 64, "s1.x", ""]
WAITS = ["", "wait=0", "wait=0.01", "wait=0.020", "wait=00", "wait=1e-3", "wait=-1",
         "wait=3601", "wait=abc", "wait=0&wait=0", "other=1", "wait=", "wait=0.0001",
         "wait=%30", "wait=0&other=1"]  # fmt: skip
KINDS = ["accepted", "started", "succeeded", "failed", "rejected", "nope"]
AT = "2024-01-02T03:04:05.678Z"


@st.composite
def event_bodies(draw: st.DrawFn, ids: list[str]) -> bytes:
    kind = draw(st.sampled_from(["events", "telemetry", "raw"]))
    if kind == "raw":
        return draw(st.sampled_from([b"", b"{", b"[]", b"{}", b'{"events": 1}',
                                     b'{"events": [], "extra": 1}', b"x" * (SMALL_BODY + 1)]))  # fmt: skip
    seq = draw(st.integers(0, 40))
    if kind == "telemetry":
        point = {"seq": seq, "at": AT, "metrics": {"cpu": draw(st.floats(0, 4))}}
        if draw(st.booleans()):
            point.update(workload=draw(st.sampled_from(ids)), generation=1)
        return json.dumps({"telemetry": [point]}).encode()
    event = {"seq": seq, "workload": draw(st.sampled_from([*ids, "wl-nope"])),
             "generation": draw(st.integers(0, 2)), "type": draw(st.sampled_from(KINDS)),
             "at": AT, "exit_code": draw(st.sampled_from([None, 0, 3]))}  # fmt: skip
    return json.dumps({"events": [event]}).encode()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_spoke_reports_and_polls_answer_as_the_route(spokes: Faces, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(SPOKE_NAMES), "name")
    who = data.draw(st.sampled_from(SPOKE_WHO), "who")
    if data.draw(st.booleans(), "report"):
        media = data.draw(st.sampled_from(MEDIA), "media")
        body = data.draw(event_bodies(spokes.ids), "body")
        _same(spokes.ask("POST", f"/v1/spokes/{name}/events", who + media, body))
    else:
        query = data.draw(st.sampled_from(WAITS), "query")
        _same(spokes.ask("GET", f"/v1/spokes/{name}/assignments?{query}", who))


def test_a_spokes_work_round_trip_answers_as_the_route(spokes: Faces) -> None:
    """Delivered, accepted, started, finished, acked: the same answers at every step."""
    pinned = _spec(name="pinned", selector={"match_labels": {"spoke": "s3"}})
    _same(spokes.ask("POST", "/v1/workloads", [CLIENT, ("Idempotency-Key", "s3"), JSON], pinned))
    for hub in spokes.hubs:
        spokes.runner.run(hub.tick())
    polled = spokes.ask("GET", "/v1/spokes/s3/assignments?wait=0", AS["s3"])
    _same(polled)
    items = json.loads(polled[0][2])["items"]
    assert "pinned" in [it["spec"]["name"] for it in items]
    for seq, kind in enumerate(["accepted", "started", "succeeded"], start=100):
        events = [{"seq": seq, "workload": it["workload"], "generation": it["generation"],
                   "type": kind, "at": AT, "exit_code": 0 if kind == "succeeded" else None}
                  for it in items]  # fmt: skip
        answers = spokes.ask("POST", "/v1/spokes/s3/events", AS["s3"] + [JSON],
                             json.dumps({"events": events}).encode())  # fmt: skip
        _same(answers)
        assert json.loads(answers[0][2])["acked_through"] == seq
    _same(spokes.ask("POST", "/v1/spokes/s3/events", AS["s3"] + [JSON], b'{"events": []}'))


def test_the_fast_paths_answer_a_spokes_reports_and_polls_themselves(spokes: Faces) -> None:
    behind: list[str] = []

    async def route(scope: Any, receive: Any, send: Any) -> None:
        behind.append(scope["path"])
        raise AssertionError("the route was asked")

    fast = FastPaths(route, hub=spokes.hubs[0])

    async def ask(method: str, url: str, body: bytes = b"") -> int:
        transport = httpx2.ASGITransport(app=fast)
        async with httpx2.AsyncClient(transport=transport, base_url="http://hub") as http:
            response = await http.request(method, url, headers=AS["s1"] + [JSON], content=body)
            return response.status_code

    asks = [("GET", "/v1/spokes/s1/assignments"), ("GET", "/v1/spokes/s1/assignments?wait=0.01"),
            ("POST", "/v1/spokes/s1/events", b'{"events": []}'),
            ("POST", "/v1/spokes/s1/events", b"{")]  # fmt: skip
    statuses = [spokes.runner.run(ask(*a)) for a in asks]
    assert behind == []
    assert statuses == [200, 200, 200, 422]
