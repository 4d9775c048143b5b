"""The HTTP API in-process: authentication, payload errors with field paths, the spoke
protocol over HTTP, idempotency, metrics, OpenAPI, and no token in any log line."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kindfleet.platform.hub.api import bodies
from kindfleet.platform.hub.service.refusals import Unauthorized
from kindfleet.platform.wire import STORE_HEADER, Capacity, EventBatch, HeartbeatRequest

WL = "wl-00000000000000000000"

CLIENT_ROUTES = [
    ("POST", "/v1/workloads"),
    ("POST", "/v1/workloads:batch"),
    ("GET", "/v1/workloads"),
    ("GET", f"/v1/workloads/{WL}"),
    ("POST", f"/v1/workloads/{WL}/cancel"),
    ("GET", f"/v1/workloads/{WL}/explain"),
    ("GET", "/v1/spokes"),
    ("GET", "/v1/telemetry"),
    ("GET", "/metrics"),
]
SPOKE_ROUTES = [
    ("POST", "/v1/spokes/s1/heartbeat"),
    ("GET", "/v1/spokes/s1/assignments"),
    ("POST", "/v1/spokes/s1/events"),
]
ALL_ROUTES = [*CLIENT_ROUTES, *SPOKE_ROUTES, ("POST", "/v1/spokes/register")]


# ---------------------------------------------------------------- authentication


@pytest.mark.parametrize(("method", "path"), ALL_ROUTES)
@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz", "token"]
)
async def test_missing_or_bad_token_is_401(api, method, path, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await api.http.request(method, path, headers=headers, content=b"{not json")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 401


@pytest.mark.parametrize(("method", "path"), CLIENT_ROUTES)
async def test_workload_api_refuses_other_token_kinds(api, method, path):
    await api.register("s1")
    for headers in (api.bootstrap, api.spoke("s1")):
        response = await api.http.request(method, path, headers=headers, json={})
        assert response.status_code == 403, (headers, response.text)


@pytest.mark.parametrize(("method", "path"), SPOKE_ROUTES)
async def test_spoke_api_only_for_that_spoke(api, method, path):
    await api.register("s1")
    await api.register("s2")
    for headers in (api.client, api.bootstrap, api.spoke("s2")):
        response = await api.http.request(method, path, headers=headers, json={})
        assert response.status_code == 403, (headers, response.text)


@pytest.mark.parametrize(("method", "path"), [*CLIENT_ROUTES, *SPOKE_ROUTES])
async def test_a_join_token_never_issued_tells_no_other_route_it_was_never_issued(
    api, method, path
):
    """Outside registration a token of the join tokens' form is refused for its form (403,
    as an issued one is), not looked up: no route but registration says whether it exists.
    Registration, which looks it up, says 401."""
    never = {"Authorization": "Bearer kfjoin.0123456789ab." + "x" * 43}
    response = await api.http.request(method, path, headers=never, json={})
    assert response.status_code == 403, response.text
    assert "join token" in response.json()["detail"]
    body = {"name": "s1", "capacity": {"cpu_millis": 1, "memory_bytes": 1}, "executor": "process"}
    registered = await api.http.post("/v1/spokes/register", json=body, headers=never)
    assert registered.status_code == 401, registered.text


async def test_register_needs_the_bootstrap_token(api):
    body = {"name": "s1", "capacity": {"cpu_millis": 1, "memory_bytes": 1}, "executor": "process"}
    response = await api.http.post("/v1/spokes/register", json=body, headers=api.client)
    assert response.status_code == 403


async def test_probes_and_openapi_are_open(api):
    assert (await api.http.get("/healthz")).json() == {"status": "ok"}
    assert (await api.http.get("/readyz")).json() == {"status": "ready"}
    doc = (await api.http.get("/openapi.json")).json()
    post = doc["paths"]["/v1/workloads"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/WorkloadSpec"
    )
    assert post["responses"]["422"]["content"]["application/problem+json"]["schema"][
        "$ref"
    ].endswith("/ProblemDetail")
    for model in ("EventBatch", "HeartbeatRequest", "RegisterRequest", "BatchSubmitRequest"):
        assert model in doc["components"]["schemas"]


# ---------------------------------------------------------------- payload errors


async def test_missing_idempotency_key_says_so(api_both):
    response = await api_both.http.post(
        "/v1/workloads", json={"name": "a", "command": ["x"]}, headers=api_both.client
    )
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["path"] == "Idempotency-Key"
    assert "Idempotency-Key header is required" in error["message"]


@pytest.mark.parametrize(
    ("key", "says"),
    [("k" * 201, "must be at most 200 characters"), (" k", "must be printable ASCII")],
)
async def test_a_refused_idempotency_key_says_why(api_both, key, says):
    """A key too long or with a space at its end was "required", as if there were none."""
    response = await api_both.http.post(
        "/v1/workloads",
        json={"name": "a", "command": ["x"]},
        headers={**api_both.client, "Idempotency-Key": key},
    )
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["path"] == "Idempotency-Key"
    assert says in error["message"] and "required" not in error["message"]


async def test_a_value_of_the_wrong_form_is_said_in_words(api_both):
    response = await api_both.http.post(
        "/v1/workloads",
        json={"name": "a", "command": ["x"], "resources": {"cpu": "lots"}},
        headers={**api_both.client, "Idempotency-Key": "k-words"},
    )
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["path"] == "resources.cpu"
    assert error["message"].startswith("is not a CPU quantity: cores or millicores, e.g.")


async def test_an_image_no_engine_could_pull_is_refused_at_submission(api_both):
    """The embedded runtime runs no image, a cluster fails the pod (InvalidImageName): the
    hub refuses it for both, before anything is stored."""
    response = await api_both.http.post(
        "/v1/workloads",
        json={"name": "a", "command": ["x"], "image": "@@@"},
        headers={**api_both.client, "Idempotency-Key": "k-image"},
    )
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["path"] == "image"
    assert error["message"].startswith("is not an image reference: [registry[:port]/]")
    listed = await api_both.http.get("/v1/workloads", headers=api_both.client)
    assert all(w["spec"]["name"] != "a" for w in listed.json()["items"])


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({"resources": {"gpu": -1}}, "resources.gpu"),
        ({"resources": {"cpu": "lots"}}, "resources.cpu"),
        ({"command": []}, "command"),
        ({"name": "Not_A_Name"}, "name"),
        ({"unknown": 1}, "unknown"),
        (
            {"selector": {"match_expressions": [{"key": "k", "operator": "Near"}]}},
            "selector.match_expressions[0].operator",
        ),
        (
            {"selector": {"match_expressions": [{"key": "k", "operator": "In"}]}},
            "selector.match_expressions[0].values",
        ),
        ({"env": {"1BAD": "x"}}, "env.1BAD.[key]"),
    ],
)
async def test_bad_spec_names_the_field(api_both, spec_body, patch, path):
    response = await api_both.submit(spec={**spec_body, **patch})
    assert response.status_code == 422, response.text
    body = response.json()
    assert path in [e["path"] for e in body["errors"]]
    assert body["title"] == "Unprocessable Content"


async def test_rejected_values_are_not_echoed(api_both, spec_body):
    secret = "hunter2-secret-value"
    response = await api_both.submit(
        spec={**spec_body, "env": {"PASSWORD": 12}, "priority": secret}
    )
    assert response.status_code == 422
    assert secret not in response.text


async def test_invalid_json(api_both):
    headers = {**api_both.client, "Idempotency-Key": "k"}
    headers["Content-Type"] = "application/json"
    response = await api_both.http.post("/v1/workloads", content=b'{"name": ', headers=headers)
    assert response.status_code == 422
    message = response.json()["errors"][0]["message"]
    assert message == "the body is not valid JSON: EOF while parsing a value at line 1 column 9"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"name": "a", "command": ["x"], "priority": ' + b"9" * 5000 + b"}", "number out of"),
        (b'{"name": "\\ud800", "command": ["x"]}', "hex escape at line 1 column"),
    ],
)
async def test_json_that_cannot_be_read_says_why_and_where(api_both, body, why):
    """A 5,000-digit number or a lone surrogate is JSON the hub cannot take: said as
    "not valid JSON" alone, the sender had nothing to look for."""
    headers = {**api_both.client, "Idempotency-Key": "k", "Content-Type": "application/json"}
    response = await api_both.http.post("/v1/workloads", content=body, headers=headers)
    assert response.status_code == 422
    message = response.json()["errors"][0]["message"]
    assert message.startswith("the body is not valid JSON: ") and why in message, message


async def test_batch_errors_have_item_paths(api):
    body = {
        "items": [
            {
                "idempotency_key": "a",
                "spec": {"name": "x", "command": ["y"], "resources": {"gpu": 99}},
            }
        ]
    }
    response = await api.http.post("/v1/workloads:batch", json=body, headers=api.client)
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "items[0].spec.resources.gpu"


async def test_query_errors_have_paths(api):
    response = await api.http.get("/v1/workloads?limit=0&cursor=x", headers=api.client)
    assert response.status_code == 422
    assert "query.limit" in [e["path"] for e in response.json()["errors"]]
    response = await api.http.get("/v1/workloads?cursor=abc", headers=api.client)
    assert response.json()["errors"][0]["path"] == "query.cursor"
    response = await api.http.get("/v1/workloads?label=novalue", headers=api.client)
    assert response.json()["errors"][0]["path"].startswith("query.label")


async def test_body_size_is_capped(api_both, monkeypatch):
    monkeypatch.setattr(bodies, "MAX_BODY", 1000)
    headers = {**api_both.client, "Idempotency-Key": "k", "Content-Type": "application/json"}
    response = await api_both.http.post("/v1/workloads", content=b"x" * 2000, headers=headers)
    assert response.status_code == 413, response.text


async def test_unknown_paths_and_methods_are_problems(api):
    response = await api.http.get("/v2/nothing", headers=api.client)
    assert response.status_code == 404 and response.json()["status"] == 404
    response = await api.http.delete("/v1/workloads", headers=api.client)
    assert response.status_code == 405 and response.json()["title"] == "Method Not Allowed"


# ---------------------------------------------------------------- workflows


async def test_idempotent_submission_over_http(api_both, spec_body):
    first = await api_both.submit("key-1", spec_body)
    assert first.status_code == 201 and first.json()["created"] is True
    again = await api_both.submit("key-1", spec_body)
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["workload"]["id"] == first.json()["workload"]["id"]
    conflict = await api_both.submit("key-1", {**spec_body, "command": ["other"]})
    assert conflict.status_code == 409
    assert "different spec" in conflict.json()["detail"]


async def test_an_exit_code_is_an_int32(api, spec_body):
    """A 4,000-digit exit code was stored and shown back; exit codes are a process's
    (negative: its signal) or a container's, an int32 either way."""
    await api.register("s1")
    wid = (await api.submit("k", spec_body)).json()["workload"]["id"]
    await api.hub.tick()
    now = "2026-01-01T00:00:00Z"
    for code, status in ((10**40, 422), (2**31, 422), (-(2**31) - 1, 422), (-9, 200)):
        event = {"seq": 1, "workload": wid, "generation": 1, "type": "failed", "at": now}
        batch = {"events": [{**event, "exit_code": code}]}
        sent = await api.http.post("/v1/spokes/s1/events", json=batch, headers=api.spoke("s1"))
        assert sent.status_code == status, (code, sent.text)
        if status == 422:
            assert sent.json()["errors"][0]["path"] == "events[0].exit_code", sent.text
    attempt = (await api.http.get(f"/v1/workloads/{wid}", headers=api.client)).json()
    assert attempt["attempts"][-1]["exit_code"] == -9


async def test_spoke_protocol_over_http(api, spec_body):
    await api.register("s1", labels={"gpu": "true"})
    wid = (await api.submit("k", spec_body)).json()["workload"]["id"]
    await api.hub.tick()
    polled = await api.http.get("/v1/spokes/s1/assignments?wait=1", headers=api.spoke("s1"))
    items = polled.json()["items"]
    assert [(i["workload"], i["generation"], i["cancel"]) for i in items] == [(wid, 1, False)]
    now = "2026-01-01T00:00:00Z"
    batch = {
        "events": [
            {"seq": 1, "workload": wid, "generation": 1, "type": "accepted", "at": now},
            {"seq": 2, "workload": wid, "generation": 1, "type": "started", "at": now},
            {
                "seq": 3,
                "workload": wid,
                "generation": 1,
                "type": "succeeded",
                "at": now,
                "exit_code": 0,
            },
        ],
        "telemetry": [
            {"seq": 4, "at": now, "workload": wid, "generation": 1, "metrics": {"loss": 0.1}}
        ],
    }
    ack = await api.http.post("/v1/spokes/s1/events", json=batch, headers=api.spoke("s1"))
    assert ack.json() == {"acked_through": 4, "refused": [], "duplicates": 0}
    again = await api.http.post("/v1/spokes/s1/events", json=batch, headers=api.spoke("s1"))
    assert again.json() == {"acked_through": 4, "refused": [], "duplicates": 4}
    workload = (await api.http.get(f"/v1/workloads/{wid}", headers=api.client)).json()
    assert workload["state"] == "Succeeded"
    beat = await api.http.post(
        "/v1/spokes/s1/heartbeat",
        json={
            "capacity": {"cpu_millis": 4000, "memory_bytes": 2**33},
            "held": [{"workload": wid, "generation": 1}],
        },
        headers=api.spoke("s1"),
    )
    assert beat.json()["stop"] == [{"workload": wid, "generation": 1}]
    series = (await api.http.get(f"/v1/telemetry?workload={wid}", headers=api.client)).json()
    assert series[0]["points"][0]["metrics"] == {"loss": 0.1}
    spokes = (await api.http.get("/v1/spokes", headers=api.client)).json()["items"]
    assert spokes[0]["name"] == "s1" and spokes[0]["health"] == "Ready"


async def test_long_poll_over_http_is_released_by_a_cancel(api, spec_body):
    await api.register("s1")
    wid = (await api.submit("k", spec_body)).json()["workload"]["id"]
    await api.hub.tick()
    await api.http.get("/v1/spokes/s1/assignments", headers=api.spoke("s1"))
    poll = asyncio.create_task(
        api.http.get("/v1/spokes/s1/assignments?wait=20", headers=api.spoke("s1"))
    )
    await asyncio.sleep(0.1)
    cancelled = await api.http.post(f"/v1/workloads/{wid}/cancel", headers=api.client)
    assert cancelled.json()["cancel_requested"] is True
    response = await asyncio.wait_for(poll, 5)
    assert response.json()["items"][0]["cancel"] is True


async def test_metrics_count_requests_by_route(api, spec_body):
    """Counted in front of both: the fast paths' answers and FastAPI's (by the route's
    template, or "unmatched"), whatever the status."""
    wid = (await api.submit("k", spec_body)).json()["workload"]["id"]
    await api.http.get(f"/v1/workloads/{wid}/explain", headers=api.client)
    await api.http.get("/v1/workloads/wl-00000000000000000000/explain", headers=api.client)
    await api.http.get("/v1/nowhere", headers=api.client)
    text = (await api.http.get("/metrics", headers=api.client)).text
    for counted in (
        'method="POST",route="/v1/workloads",status="201"} 1.0',
        'method="GET",route="/v1/workloads/{workload_id}/explain",status="200"} 1.0',
        'method="GET",route="/v1/workloads/{workload_id}/explain",status="404"} 1.0',
        'method="GET",route="unmatched",status="404"} 1.0',
    ):
        assert "kindfleet_hub_http_requests_total{" + counted in text
    # timed by method too: a list and a submission share their route's template
    timed = 'kindfleet_hub_http_request_seconds_count{method="POST",route="/v1/workloads"} 1.0'
    assert timed in text
    assert 'kindfleet_hub_submissions_total{result="created"} 1.0' in text
    assert "kindfleet_hub_store_group_jobs_bucket" in text


async def test_explain_over_http(api, spec_body):
    await api.register("s1")
    wid = (await api.submit("k", {**spec_body, "resources": {"gpu": 4}})).json()["workload"]["id"]
    await api.hub.tick()
    body = (await api.http.get(f"/v1/workloads/{wid}/explain", headers=api.client)).json()
    assert body["queue_position"] == 1
    assert body["considered"] == [
        {
            "spoke": "s1",
            "fits": False,
            "reasons": ["needs 4 GPUs, 1 free (1 in all: it never fits here)"],
        }
    ]


# ---------------------------------------------------------------- secrets


async def test_no_token_in_any_log_line(api, spec_body, caplog):
    caplog.set_level(logging.DEBUG)
    await api.register("s1")
    await api.register("s2")
    api.clock.advance(7)  # s1's lease runs out: a new join token may register it again
    await api.register("s1")  # re-registration: a new credential, the old one revoked
    credentials = list(api.credentials.values())
    wid = (await api.submit("k", spec_body)).json()["workload"]["id"]
    await api.hub.tick()
    await api.http.get("/v1/spokes/s1/assignments", headers=api.spoke("s1"))
    await api.http.post(f"/v1/workloads/{wid}/cancel", headers=api.client)
    bad = {"Authorization": "Bearer " + credentials[0][::-1]}
    await api.http.get("/v1/spokes", headers=bad)
    api.clock.advance(120)
    beat = {"capacity": {"cpu_millis": 4000, "memory_bytes": 2**33}}
    await api.http.post("/v1/spokes/s2/heartbeat", json=beat, headers=api.spoke("s2"))
    await api.hub.tick()
    text = caplog.text
    assert "registered" in text and "is Lost" in text  # the scenario was logged
    for secret in [api.client_token, api.bootstrap_token, *credentials]:
        assert secret not in text


async def test_not_ready_when_the_store_is_gone(api):
    api.hub.db.writer.close()
    response = await api.http.get("/readyz")
    assert response.status_code == 503
    assert (await api.http.get("/healthz")).status_code == 200
    submitted = await api.submit("k")
    assert submitted.status_code == 503
    assert submitted.json()["title"] == "Service Unavailable"


async def test_the_scheduler_places_work_on_its_own(scheduled_api, spec_body):
    api = scheduled_api
    await api.register("s1")
    wid = (await api.submit("k", spec_body)).json()["workload"]["id"]
    response = await api.http.get("/v1/spokes/s1/assignments?wait=5", headers=api.spoke("s1"))
    assert [i["workload"] for i in response.json()["items"]] == [wid]


async def test_a_report_or_beat_that_waited_out_its_spokes_removal_is_a_401(api, caplog):
    """Authenticated, then the spoke is removed before the request's turn on the writer:
    the answer is what a revoked credential gets, not a 500 (a stranger racing a removal
    against a spoke's reports found the hub asserting the spoke still existed)."""
    await api.register("s1")
    gone = await api.http.delete("/v1/spokes/s1?force=true", headers=api.client)
    assert gone.status_code == 200, gone.text
    beat = HeartbeatRequest(capacity=Capacity(cpu_millis=1000, memory_bytes=2**30))
    for late in (api.hub.ingest("s1", EventBatch()), api.hub.heartbeat("s1", beat)):
        with pytest.raises(Unauthorized, match="s1 was removed"):
            await late
    assert "unexpected" not in caplog.text


async def test_one_spokes_heartbeats_are_handled_one_at_a_time_others_alongside(api, monkeypatch):
    """Found from outside: one credential sending 100,000-entry heartbeats on four
    connections held an honest spoke's heartbeat for 6 s (its lease) and submissions for
    13 s. A spoke's heartbeats now wait their turn behind each other, not beside them;
    other spokes' go on alongside."""
    await api.register("s1")
    await api.register("s2")
    inside: dict[str, int] = {"s1": 0, "s2": 0}
    most: dict[str, int] = {"s1": 0, "s2": 0}
    s2_in = asyncio.Event()
    real = api.hub.heartbeat

    async def slow(name, req, credential=None):
        inside[name] += 1
        most[name] = max(most[name], inside[name])
        try:
            if name == "s1":  # s1's first heartbeat keeps its turn until s2 got in beside it
                await asyncio.wait_for(s2_in.wait(), 10)
            else:
                s2_in.set()
            return await real(name, req, credential)
        finally:
            inside[name] -= 1

    monkeypatch.setattr(api.hub, "heartbeat", slow)
    beat = {"capacity": {"cpu_millis": 4000, "memory_bytes": 2**33}, "held": []}

    async def send(name):
        url = f"/v1/spokes/{name}/heartbeat"
        return await api.http.post(url, json=beat, headers=api.spoke(name))

    answers = await asyncio.gather(*(send("s1") for _ in range(6)), send("s2"), send("s2"))
    assert [a.status_code for a in answers] == [200] * 8
    assert most["s1"] == 1  # one at a time, the other five waiting their turn
    assert s2_in.is_set()  # and s2 not held behind s1's queue


async def test_the_turns_keep_no_spoke_name_once_nobody_waits():
    from kindfleet.platform.hub.api.oneatatime import PerSpoke

    turns = PerSpoke()

    async def one(name):
        async with turns.turn(name):
            await asyncio.sleep(0)

    await asyncio.gather(*(one(f"s{i % 5}") for i in range(50)))
    assert len(turns) == 0
    with pytest.raises(RuntimeError):
        async with turns.turn("s1"):
            raise RuntimeError("a failed heartbeat gives its turn back")
    assert len(turns) == 0


@pytest.mark.parametrize(
    ("query", "path", "message"),
    [
        ("state=Pending&state=Running", "query.state", "is given 2 times: give it once"),
        ("stat=Running", "query.stat", "is not a parameter of this route (takes cursor, label"),
        ("limit=1&limit=2", "query.limit", "is given 2 times"),
    ],
)
async def test_a_query_parameter_repeated_or_unknown_is_refused_by_name(api, query, path, message):
    """Found from outside: the last of two `state`s was used (the reverse order another
    answer), and a typo (`stat`) answered every workload as if no filter was asked for."""
    answer = await api.http.get(f"/v1/workloads?{query}", headers=api.client)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["path"] == path
    assert message in answer.json()["errors"][0]["message"]


async def test_strict_queries_leave_lists_alone_and_tell_strangers_nothing(api):
    both = "/v1/workloads?label=a=b&label=c=d"
    assert (await api.http.get(both, headers=api.client)).status_code == 200
    assert (await api.http.get("/v1/workloads?stat=x")).status_code == 401
    await api.register("s1")
    twice = await api.http.get("/v1/spokes/s1/assignments?wait=0&wait=1", headers=api.spoke("s1"))
    assert twice.status_code == 422 and "query.wait" in twice.text


async def test_anyone_sending_another_store_is_refused_and_logged_once_a_spell(api, caplog):
    """The store check comes before the token (a spoke of a lost store learns why at
    once); 35,000 such anonymous requests in 5 s wrote 35,000 ERROR lines."""
    caplog.set_level(logging.ERROR, logger="kindfleet.hub")
    for i in range(50):
        answer = await api.http.post(
            "/v1/spokes/register",
            headers={STORE_HEADER: f"other-{i}"},
            json={"name": "x", "capacity": {"cpu_millis": 1000, "memory_bytes": 1, "gpus": 0}},
        )
        assert answer.status_code == 409
    said = [r.getMessage() for r in caplog.records if "remembers hub store" in r.getMessage()]
    assert len(said) == 1
