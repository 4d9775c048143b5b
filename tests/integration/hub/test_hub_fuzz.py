"""No input gets a 500: random paths, queries, headers and bodies at every endpoint of the
in-process app, on SQLite and on PostgreSQL (which refuses NUL bytes in text, among other
things SQLite lets through). Every error must also be a well-formed ProblemDetail."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from kindfleet.platform.hub.api.app import create_app
from kindfleet.platform.hub.testing import FakeClock
from kindfleet.platform.wire import ProblemDetail

NOW = "2026-01-01T00:00:00Z"
KEYS = [
    "name", "command", "resources", "cpu", "memory", "gpu", "selector", "match_labels",
    "match_expressions", "key", "operator", "values", "priority", "retry", "max_retries",
    "env", "labels", "items", "spec", "idempotency_key", "events", "telemetry", "seq",
    "workload", "generation", "type", "at", "metrics", "capacity", "cpu_millis",
    "memory_bytes", "gpus", "held", "executor", "pending_deadline_seconds", "timeout_seconds",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(
        ["", "\x00", "In", "Exists", "started", "failed", "100m", "1Gi", NOW, "wl-x", "s1", "-1"]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=25,
)


def templates(wid: str) -> list[dict[str, Any]]:
    spec = {
        "name": "a",
        "command": ["x"],
        "resources": {"cpu": "1", "memory": "1Gi", "gpu": 0},
        "labels": {"k": "v"},
    }
    return [
        spec,
        {"items": [{"idempotency_key": "i", "spec": spec}]},
        {
            "name": "s2",
            "capacity": {"cpu_millis": 1000, "memory_bytes": 2**30, "gpus": 0},
            "executor": "process",
        },
        {
            "capacity": {"cpu_millis": 1000, "memory_bytes": 2**30},
            "held": [{"workload": wid, "generation": 1}],
        },
        {
            "events": [{"seq": 5, "workload": wid, "generation": 1, "type": "started", "at": NOW}],
            "telemetry": [{"seq": 6, "at": NOW, "workload": wid, "metrics": {"m": 1.0}}],
        },
    ]


def mutate(data: Any, draw: Any) -> Any:
    """Replace one random node of a JSON document with a random value."""
    if isinstance(data, dict) and data and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(data)))
        return {**data, key: mutate(data[key], draw)}
    if isinstance(data, list) and data and draw(st.booleans()):
        i = draw(st.integers(0, len(data) - 1))
        return [*data[:i], mutate(data[i], draw), *data[i + 1 :]]
    return draw(json_values)


NASTY = st.sampled_from(
    ["\x00", "a\x00b", "\ud7ff", "é" * 70, "x" * 5000, " ", "\n", "%00", "'; drop table"]
)


def poison(data: Any, draw: Any) -> Any:
    """Keep the shape, damage one string (a value or a key): NULs, long, odd characters."""
    spots: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                spots.append((*path, ("key", k)))
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))
        elif isinstance(node, str):
            spots.append(path)

    walk(data, ())
    if not spots:
        return data
    return _replace(data, draw(st.sampled_from(spots)), draw(NASTY))


def _replace(node: Any, path: tuple[Any, ...], new: str) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(head, tuple):  # rename a key
        return {(new if k == head[1] else k): v for k, v in node.items()}
    if isinstance(node, list):
        return [
            (_replace(v, rest, new) if rest else new) if i == head else v
            for i, v in enumerate(node)
        ]
    return {
        k: ((_replace(v, rest, new) if rest else new) if k == head else v) for k, v in node.items()
    }


PATHS = [
    "/v1/workloads", "/v1/workloads:batch", "/v1/workloads/{w}", "/v1/workloads/{w}/cancel",
    "/v1/workloads/{w}/explain", "/v1/spokes", "/v1/telemetry", "/v1/spokes/register",
    "/v1/spokes/{s}/heartbeat", "/v1/spokes/{s}/assignments", "/v1/spokes/{s}/events",
    "/healthz", "/readyz", "/metrics", "/openapi.json", "/{w}",
]  # fmt: skip
QUERY_KEYS = ["limit", "cursor", "state", "spoke", "label", "workload", "since", "wait"]
SAFE_WAITS = ["0", "-1", "nan", "inf", "abc", "0.01", "1e309", ""]
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@pytest.fixture
def client(store_url: str, tmp_path: Any) -> Any:
    from kindfleet.platform.hub.settings import HubSettings

    settings_ = HubSettings(
        store=store_url,
        client_token="c-token-fuzz",
        fleet_token="b-token-fuzz",
        scheduler=False,
    )
    app = create_app(settings_, clock=FakeClock())
    with TestClient(app, raise_server_exceptions=False) as tc:
        reg = tc.post(
            "/v1/spokes/register",
            headers={"Authorization": "Bearer b-token-fuzz"},
            json={**templates("")[2], "name": "s1"},
        )
        sub = tc.post(
            "/v1/workloads",
            headers={"Authorization": "Bearer c-token-fuzz", "Idempotency-Key": "seed"},
            json=templates("")[0],
        )
        tc.app.state.tokens = {
            "client": "c-token-fuzz",
            "bootstrap": "b-token-fuzz",
            "spoke": reg.json()["credential"],
            "workload": sub.json()["workload"]["id"],
        }
        yield tc


# (method, path, token kind, body template index or None): requests a real caller makes.
ENDPOINTS = [
    ("POST", "/v1/workloads", "client", 0),
    ("POST", "/v1/workloads:batch", "client", 1),
    ("GET", "/v1/workloads", "client", None),
    ("GET", "/v1/workloads/{w}", "client", None),
    ("POST", "/v1/workloads/{w}/cancel", "client", None),
    ("GET", "/v1/workloads/{w}/explain", "client", None),
    ("GET", "/v1/spokes", "client", None),
    ("GET", "/v1/telemetry", "client", None),
    ("POST", "/v1/spokes/register", "bootstrap", 2),
    ("POST", "/v1/spokes/s1/heartbeat", "spoke", 3),
    ("GET", "/v1/spokes/s1/assignments", "spoke", None),
    ("POST", "/v1/spokes/s1/events", "spoke", 4),
]


@st.composite
def requests_(
    draw: Any, tokens: dict[str, str]
) -> tuple[str, str, dict[str, str], dict[str, str], bytes]:
    """Mostly a well-addressed, authenticated request with a damaged body or query;
    sometimes anything at all."""
    wid = draw(
        st.sampled_from(
            [tokens["workload"], "wl-00000000000000000000", "x", "%00", "..", "wl-\u00e9"]
        )
    )
    shown = templates(tokens["workload"])
    if draw(st.integers(0, 9)) < 7:
        method, path, auth, index = draw(st.sampled_from(ENDPOINTS))
        path = path.format(w=wid)
        template = shown[index] if index is not None else draw(json_values)
        damage = draw(st.sampled_from([mutate, poison, mutate, lambda t, d: t]))
        body = json.dumps(damage(template, draw)).encode()
    else:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]))
        spoke = draw(st.sampled_from(["s1", "s2", "S1", "%00", "a" * 70]))
        path = draw(st.sampled_from(PATHS)).format(w=wid, s=spoke)
        if draw(st.booleans()):
            path += draw(st.sampled_from(["/", "/x", "//", "?", "#"]))
        auth = draw(st.sampled_from(["client", "bootstrap", "spoke", "none", "junk"]))
        kind = draw(st.sampled_from(["template", "json", "bytes", "empty"]))
        if kind == "template":
            body = json.dumps(mutate(draw(st.sampled_from(shown)), draw)).encode()
        elif kind == "json":
            body = json.dumps(draw(json_values)).encode()
        elif kind == "bytes":
            body = draw(st.binary(max_size=64))
        else:
            body = b""
    params = {}
    for key in draw(st.lists(st.sampled_from(QUERY_KEYS), max_size=3, unique=True)):
        params[key] = (
            draw(st.sampled_from(SAFE_WAITS)) if key == "wait" else draw(st.text(max_size=10))
        )
    headers = {}
    if auth in tokens:
        headers["Authorization"] = f"Bearer {tokens[auth]}"
    elif auth == "junk":
        headers["Authorization"] = draw(header_text)
    if draw(st.integers(0, 4)):
        headers["Idempotency-Key"] = (
            draw(header_text.filter(str.strip)) if draw(st.booleans()) else "k"
        )
    if draw(st.booleans()):
        headers["Content-Type"] = draw(st.sampled_from(["application/json", "text/plain", "x/y"]))
    return method, path, params, headers, body


@pytest.mark.slow
def test_no_input_gets_a_500(client: Any) -> None:
    tokens = client.app.state.tokens

    @settings(
        max_examples=400,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(req=requests_(tokens))
    def check(req: tuple[str, str, dict[str, str], dict[str, str], bytes]) -> None:
        method, path, params, headers, body = req
        response = client.request(method, path, params=params, headers=headers, content=body)
        assert response.status_code < 500, (req, response.text)
        if response.status_code >= 400:
            problem = ProblemDetail.model_validate_json(response.content)
            assert problem.status == response.status_code

    check()
