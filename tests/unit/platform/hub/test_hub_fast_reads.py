"""The read fast path says exactly what the reference says, byte for byte.

`wirejson.render` (a row straight to JSON) against `to_wire(record(row)).model_dump_json()`
for any values a row can hold; `reads.page_json`/`get_json` against `reads.page`/`get` on
a store with work in every state; and the HTTP fast path against the FastAPI routes for
well-formed and doubtful queries alike (the doubtful ones go to the route)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kindfleet.platform.hub.api.app import create_app
from kindfleet.platform.hub.rules.times import LATEST
from kindfleet.platform.hub.rules.views import to_wire
from kindfleet.platform.hub.service import reads
from kindfleet.platform.hub.service.reads import ListQuery
from kindfleet.platform.hub.service.rows import canonical, digest, record
from kindfleet.platform.hub.service.wirejson import WorkloadJson, render
from kindfleet.platform.hub.testing import FakeClock
from kindfleet.platform.store.workloads import SHOWN
from kindfleet.platform.wire import WorkloadSpec, WorkloadState

from tests.unit.platform.hub.conftest import Api, settings_for

text = st.text(st.characters(codec="utf-8"), max_size=20)
times = st.floats(min_value=0, max_value=LATEST - 86400, allow_nan=False)
maybe_time = st.none() | times
states = st.sampled_from([s.value for s in WorkloadState])
attempt = st.tuples(
    st.integers(0, 2**40), text, states, times, maybe_time, maybe_time,
    st.none() | st.integers(-(2**31), 2**31), st.none() | text,
)  # fmt: skip
specs = st.fixed_dictionaries(
    {"name": st.just("w"), "command": st.lists(text, min_size=1, max_size=3)},
    optional={
        "env": st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,5}", fullmatch=True), text, max_size=3),
        "labels": st.dictionaries(st.text("abc./-", min_size=1, max_size=5), st.text("xyz\n\"é", max_size=5), max_size=3),
        "timeout_seconds": st.floats(min_value=1e-6, max_value=2592000),
        "pending_deadline_seconds": st.floats(min_value=1e-6, max_value=2592000),
        "priority": st.integers(-1000, 1000),
    },
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec=specs, state=states, generation=st.integers(0, 2**40), spoke=st.none() | text,
    retries=st.integers(0, 100), cancel=st.booleans(), reason=st.none() | text,
    message=st.none() | text, attempts=st.lists(attempt, max_size=3),
    submitted=times, updated=times,
)  # fmt: skip
def test_render_is_the_reference_byte_for_byte(
    spec, state, generation, spoke, retries, cancel, reason, message, attempts, submitted, updated
):
    model = WorkloadSpec.model_validate(spec)
    stored = canonical(model)
    columns = {
        "seq": 7, "id": "wl-0123456789abcdef0123", "spec_hash": digest(stored), "spec": stored,
        "state": state, "generation": generation, "spoke": spoke, "retries_used": retries,
        "cancel_requested": int(cancel), "reason": reason, "message": message,
        "attempts": json.dumps([list(a) for a in attempts]), "submitted_at": submitted,
        "updated_at": updated, "accepted": 0, "delivered_at": None,
        "cancel_delivered_at": None, "deadline_at": None,
    }  # fmt: skip
    reference = to_wire(record(SimpleNamespace(**columns))).model_dump_json().encode()
    spec_json = WorkloadSpec.model_validate_json(stored).model_dump_json()
    assert render(tuple(columns[c] for c in SHOWN), spec_json) == reference


async def _busy_store(api: Api) -> list[str]:
    """Work in every state: pending, assigned, running, succeeded, failed with a message,
    retried, cancelled; labels to filter on."""
    ids = []
    for i in range(12):
        spec = {"name": f"w{i}", "command": ["x", "é\n\"\x01"], "labels": {"team": f"t{i % 3}"},
                "retry": {"max_retries": 1}, "timeout_seconds": 1.5 + i}  # fmt: skip
        response = await api.submit(f"k{i}", spec)
        ids.append(response.json()["workload"]["id"])
    await api.register("s1")
    await api.hub.tick()
    batch = (await api.http.get("/v1/spokes/s1/assignments", headers=api.spoke("s1"))).json()
    events, seq = [], 0
    for n, item in enumerate(batch["items"][:6]):
        kinds = [("started", None)] + [[], [("succeeded", 0)], [("failed", 3)]][n % 3]
        for kind, code in kinds:
            seq += 1
            events.append({"seq": seq, "workload": item["workload"], "generation": item["generation"],
                           "type": kind, "at": "2024-01-02T03:04:05.678Z", "exit_code": code,
                           "message": "boom \u2028 \x7f" if kind == "failed" else None})  # fmt: skip
    response = await api.http.post("/v1/spokes/s1/events", json={"events": events}, headers=api.spoke("s1"))
    assert response.status_code == 200, response.text
    await api.http.post(f"/v1/workloads/{ids[-1]}/cancel", headers=api.client)
    return ids


async def test_page_and_get_json_are_the_reference(api):
    ids = await _busy_store(api)
    cache = WorkloadJson(rows_kept=5, specs_kept=2)  # eviction on every call
    queries = [ListQuery(limit=n) for n in (1, 5, 100)] + [
        ListQuery(limit=3, before=8), ListQuery(state=WorkloadState.RUNNING),
        ListQuery(spoke="s1"), ListQuery(labels={"team": "t1"}),
        ListQuery(labels={"team": "t1"}, state=WorkloadState.PENDING, limit=2),
    ]  # fmt: skip
    for _ in range(2):  # the second time from the caches
        for q in queries:
            slow = await api.hub.db.read(lambda conn, q=q: reads.page(conn, q).model_dump_json())
            fast = await api.hub.db.read(lambda conn, q=q: reads.page_json(conn, q, cache))
            assert fast == slow.encode(), q
        for wid in ids:
            slow = await api.hub.db.read(lambda conn, w=wid: reads.get(conn, w).model_dump_json())
            fast = await api.hub.db.read(lambda conn, w=wid: reads.get_json(conn, w, cache))
            assert fast == slow.encode()


QUERIES = [
    "", "?limit=3", "?limit=1000", "?limit=1001", "?limit=0", "?limit=0100", "?limit=1e2",
    "?limit=abc", "?limit=3&limit=4", "?state=Running", "?state=running", "?state=Nope",
    "?spoke=s1", "?spoke=S1", "?spoke=s1%0A", "?label=team=t1", "?label=team%3Dt1&label=x=y",
    "?label=noequals", "?label=a=%01", "?cursor=5", "?cursor=-1", "?cursor=99999999999999999999",
    "?other=1", "?limit=2&cursor=9&state=Pending&label=team=t0",
    "?" + "&".join(f"label=k{i}=v" for i in range(17)),
]  # fmt: skip


async def _answers(tmp_path: Path, fast: bool, clock: FakeClock, ids: list[str]) -> list[tuple]:
    app = create_app(settings_for(tmp_path), clock=clock, fast_path=fast)
    out = []
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://hub") as http:
            api = Api(app, http, clock)
            if not ids:
                ids += await _busy_store(api)
            paths = [f"/v1/workloads{q}" for q in QUERIES] + [f"/v1/workloads/{w}" for w in ids]
            paths += ["/v1/workloads/wl-00000000000000000000", "/v1/workloads/wl-0", "/v1/workloads/"]
            for path in paths:
                for headers in (api.client, {}, {"Authorization": "Bearer nope"}, api.bootstrap):
                    r = await http.get(path, headers=headers)
                    out.append((path, headers.get("Authorization"), r.status_code,
                                r.headers.get("content-type"), r.headers.get("www-authenticate"), r.content))  # fmt: skip
    return out


async def test_http_fast_path_answers_as_the_routes(tmp_path):
    clock = FakeClock()
    ids: list[str] = []
    fast = await _answers(tmp_path, True, clock, ids)
    slow = await _answers(tmp_path, False, clock, ids)
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow, strict=True):
        assert a == b
    assert {a[2] for a in fast} >= {200, 401, 403, 404, 422}


@pytest.mark.parametrize("limit", [1, 7])
async def test_pages_follow_the_cursor_to_the_end(api, limit):
    ids = await _busy_store(api)
    seen, cursor = [], None
    while True:
        path = f"/v1/workloads?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = (await api.http.get(path, headers=api.client)).json()
        seen += [w["id"] for w in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
