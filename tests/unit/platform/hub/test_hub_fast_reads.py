"""The read fast path says exactly what the reference says, byte for byte.

`wirejson.render` (a row straight to JSON) against `to_wire(record(row)).model_dump_json()`
for any values a row can hold; `reads.page_json`/`get_json` against `reads.page`/`get` on
a store with work in every state. The HTTP fast paths against the routes: `test_hub_fast_http`."""

from __future__ import annotations

import json
from types import SimpleNamespace

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.platform.hub.conftest import Api, busy_store, settings_for

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

text = st.text(st.characters(codec="utf-8"), max_size=20)
spec_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)
times = st.floats(min_value=0, max_value=LATEST - 86400, allow_nan=False)
maybe_time = st.none() | times
states = st.sampled_from([s.value for s in WorkloadState])
attempt = st.tuples(
    st.integers(0, 2**40), text, states, times, maybe_time, maybe_time,
    st.none() | st.integers(-(2**31), 2**31), st.none() | text,
)  # fmt: skip
specs = st.fixed_dictionaries(
    {"name": st.just("w"), "command": st.lists(spec_text, min_size=1, max_size=3)},
    optional={
        "env": st.dictionaries(
            st.from_regex(r"[A-Z_][A-Z0-9_]{0,5}", fullmatch=True), spec_text, max_size=3
        ),
        "labels": st.dictionaries(
            st.text("abc./-", min_size=1, max_size=5), st.text('xyz\n"é', max_size=5), max_size=3
        ),
        "timeout_seconds": st.floats(min_value=1e-6, max_value=2592000),
        "pending_deadline_seconds": st.floats(min_value=1e-6, max_value=2592000),
        "priority": st.integers(-1000, 1000),
    },
)


columns = st.fixed_dictionaries(
    {
        "state": states, "generation": st.integers(0, 2**40), "spoke": st.none() | text,
        "retries_used": st.integers(0, 100), "cancel_requested": st.sampled_from([0, 1]),
        "reason": st.none() | text, "message": st.none() | text,
        "attempts": st.lists(attempt, max_size=3).map(lambda a: json.dumps([list(x) for x in a])),
        "submitted_at": times, "updated_at": times,
    }
)  # fmt: skip


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs, drawn=columns)
def test_render_is_the_reference_byte_for_byte(spec, drawn):
    model = WorkloadSpec.model_validate(spec)
    stored = canonical(model)
    columns = {
        "seq": 7, "id": "wl-0123456789abcdef0123", "spec_hash": digest(stored), "spec": stored,
        **drawn, "accepted": 0, "delivered_at": None, "cancel_delivered_at": None,
        "deadline_at": None,
    }  # fmt: skip
    reference = to_wire(record(SimpleNamespace(**columns))).model_dump_json().encode()
    spec_json = WorkloadSpec.model_validate_json(stored).model_dump_json()
    assert render(tuple(columns[c] for c in SHOWN), spec_json) == reference


async def test_page_and_get_json_are_the_reference(api):
    ids = await busy_store(api)
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


@pytest.mark.parametrize("limit", [1, 7])
async def test_pages_follow_the_cursor_to_the_end(api, limit):
    ids = await busy_store(api)
    seen, cursor = [], None
    while True:
        path = f"/v1/workloads?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = (await api.http.get(path, headers=api.client)).json()
        seen += [w["id"] for w in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]


@pytest.mark.parametrize("store", ["file", "memory"])
async def test_a_kept_page_is_read_afresh_after_any_commit(tmp_path, store):
    """Pages are kept while no transaction has ended (bodies.py); a commit that changes
    one row of the page, not how many there are, must still be seen, on a file store and
    in memory (where reads share the writer's connection)."""
    overrides = {"store": "sqlite://"} if store == "memory" else {}
    app = create_app(settings_for(tmp_path, **overrides), clock=FakeClock())
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://hub") as http:
            api = Api(app, http, app.state.hub.clock)
            ids = await busy_store(api)
            url = "/v1/workloads?limit=5"
            before = [(await http.get(url, headers=api.client)).content for _ in range(4)]
            assert len(set(before)) == 1
            response = await http.post(f"/v1/workloads/{ids[-2]}/cancel", headers=api.client)
            assert response.status_code == 200
            after = [(await http.get(url, headers=api.client)).content for _ in range(4)]
            reference = await api.hub.db.read(
                lambda conn: reads.page(conn, ListQuery(limit=5)).model_dump_json().encode()
            )
            assert after == [reference] * 4
            assert reference != before[0]


async def test_a_kept_workload_is_read_afresh_after_a_commit_that_changes_it(api):
    ids = await busy_store(api)
    url = f"/v1/workloads/{ids[0]}"
    before = [(await api.http.get(url, headers=api.client)).content for _ in range(3)]
    assert len(set(before)) == 1
    response = await api.http.post(f"{url}/cancel", headers=api.client)
    assert response.status_code == 200
    after = (await api.http.get(url, headers=api.client)).json()
    assert after == response.json()
    assert after != json.loads(before[0])  # the cancellation shows
