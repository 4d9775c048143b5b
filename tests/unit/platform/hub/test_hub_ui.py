"""The dashboard in process (no browser): its door, its session, what it escapes, its
headers, the fault report and the activity it keeps. The browser tests
(`tests/browser/`) show the same pages doing their work in Chromium."""

from __future__ import annotations

import re
from typing import Any

import httpx2
import pytest
from tests.unit.platform.hub.conftest import settings_for

from kindfleet.platform.hub.api.app import create_app
from kindfleet.platform.hub.ui.guard import CSP, safe_next
from kindfleet.platform.hub.ui.session import Sessions
from kindfleet.platform.wire import Guard

HOSTILE = '<script>alert("x")</script>'
ATTR = '"><img src=x onerror=alert(1)>'


async def login(api: Any) -> None:
    response = await api.http.post(
        "/ui/login",
        content=f"token={api.client_token}&next=/ui/workloads",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://hub"},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/ui/workloads"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert api.client_token not in cookie


PAGES = [
    "/ui/",
    "/ui/workloads",
    "/ui/activity",
    "/ui/fragments/fleet",
    "/ui/fragments/workloads",
    "/ui/workloads/wl-0123456789abcdef0123",
    "/ui/fragments/activity",
    "/ui/anything/else",
    "/ui",
]


@pytest.mark.parametrize("path", PAGES)
async def test_without_a_session_only_the_login_page_is_served(api, path):
    response = await api.http.get(path)
    assert response.status_code in (303, 307), response.text
    if response.status_code == 307:  # /ui -> /ui/, then the same door
        response = await api.http.get(response.headers["location"])
    assert response.headers["location"].startswith("/ui/login")
    fragment = await api.http.get(
        path, headers={"HX-Request": "true", "HX-Current-URL": "http://hub/ui/workloads"}
    )
    assert fragment.status_code in (401, 307)
    # The bearer token of the API is not a session of the dashboard either.
    with_bearer = await api.http.get(path, headers=api.client)
    assert with_bearer.status_code in (303, 307)


async def test_fragment_without_session_tells_htmx_to_go_to_login(api):
    response = await api.http.get(
        "/ui/fragments/workloads",
        headers={"HX-Request": "true", "HX-Current-URL": "http://hub/ui/workloads?state=Pending"},
    )
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/ui/login?next=/ui/workloads%3Fstate%3DPending"


async def test_login_page_and_static_files_are_open_with_strict_headers(api):
    page = await api.http.get("/ui/login")
    assert page.status_code == 200
    assert 'name="token"' in page.text and 'type="password"' in page.text
    assert page.headers["content-security-policy"] == CSP
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    for asset in ("dashboard.css", "dashboard.js", "vendor/htmx.min.js"):
        response = await api.http.get(f"/ui/static/{asset}")
        assert response.status_code == 200, asset
    assert "<script>" not in page.text.replace("<script src=", "")  # no inline script


async def test_a_wrong_token_is_refused_and_sets_no_cookie(api):
    for token in ("nope", api.bootstrap_token, "", "x" * 5000):
        response = await api.http.post(
            "/ui/login",
            content=f"token={token}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code in (401, 422), token
        assert "set-cookie" not in response.headers
    assert (await api.http.get("/ui/")).status_code == 303


async def test_cross_site_login_and_logout_are_refused(api):
    response = await api.http.post(
        "/ui/login",
        content=f"token={api.client_token}",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil"},
    )
    assert response.status_code == 403 and "set-cookie" not in response.headers
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
        response = await api.http.post(
            "/ui/login",
            content=f"token={api.client_token}",
            headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
        )
        assert response.status_code == 403 and "set-cookie" not in response.headers
    # A browser's own page under `no-referrer`: Origin "null", but Sec-Fetch-Site says.
    same = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    response = await api.http.post(
        "/ui/login",
        content=f"token={api.client_token}",
        headers={"Content-Type": "application/x-www-form-urlencoded", **same},
    )
    assert response.status_code == 303 and "set-cookie" in response.headers


async def test_session_opens_every_page_and_logout_ends_it(api):
    await login(api)
    for path in ("/ui/", "/ui/workloads", "/ui/activity", "/ui/fragments/fleet"):
        response = await api.http.get(path)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["cache-control"] == "no-store"
    missing = await api.http.get("/ui/workloads/wl-0123456789abcdef0123")
    assert missing.status_code == 404 and "Not found" in missing.text
    bad = await api.http.get("/ui/workloads?state=Nope&label=%00")
    assert bad.status_code == 200 and "is not a workload state" in bad.text
    out = await api.http.post("/ui/logout", headers={"Origin": "http://hub"})
    assert out.status_code == 303
    assert (await api.http.get("/ui/")).status_code == 303


async def test_two_hubs_on_one_host_keep_their_own_sessions(api, tmp_path):
    """Browsers keep cookies per host, not per port: two local fleets' dashboards on one
    address share a jar. Logging in to the second must not log the first out."""
    tokens = {"http://hub:8001": api.client_token, "http://hub:8002": "another-" + "t" * 30}
    other = create_app(settings_for(tmp_path / "b", client_token=tokens["http://hub:8002"]))
    async with other.router.lifespan_context(other):
        mounts = {
            "http://hub:8001": httpx2.ASGITransport(app=api.app),
            "http://hub:8002": httpx2.ASGITransport(app=other),
        }
        async with httpx2.AsyncClient(mounts=mounts) as browser:  # one jar for both
            for base, token in tokens.items():
                response = await browser.post(
                    f"{base}/ui/login",
                    content=f"token={token}",
                    headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": base},
                )
                assert response.status_code == 303, response.text
            for base in tokens:
                assert (await browser.get(f"{base}/ui/")).status_code == 200, base
            assert len({cookie.name for cookie in browser.cookies.jar}) == 2
    assert Sessions("a" * 30).cookie == Sessions("a" * 30).cookie != Sessions("b" * 30).cookie


def test_sessions_expire_and_do_not_survive_a_new_client_token():
    now = [1000.0]
    sessions = Sessions("token-a" * 5, clock=lambda: now[0])
    value = sessions.issue()
    assert sessions.valid(value)
    assert Sessions("token-a" * 5, clock=lambda: now[0]).valid(value)  # a restarted hub
    assert not Sessions("token-b" * 5, clock=lambda: now[0]).valid(value)
    assert not sessions.valid(value[:-1] + ("0" if value[-1] != "0" else "1"))
    assert not sessions.valid(value.replace("v1.", "v2.", 1))
    now[0] += 13 * 3600
    assert not sessions.valid(value)
    for junk in (None, "", "a.b.c", "v1.x.y.z", "." * 300):
        assert not sessions.valid(junk)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/ui/workloads?state=Pending", "/ui/workloads?state=Pending"),
        ("https://evil.example/", "/ui/"),
        ("//evil.example/ui/", "/ui/"),
        ("/ui//evil", "/ui/"),
        ("/ui/static/x", "/ui/"),
        ("/v1/workloads", "/ui/"),
        ("/ui/\\evil", "/ui/"),
        (None, "/ui/"),
    ],
)
def test_after_login_only_dashboard_paths(target, expected):
    assert safe_next(target) == expected


async def test_hostile_labels_names_and_faults_are_text(api):
    await api.register("spoke-a", labels={HOSTILE: ATTR})
    spec = {
        "name": "evil",
        "command": [HOSTILE],
        "labels": {HOSTILE: ATTR},
        "env": {"SECRET": "hunter2-" + HOSTILE},
    }
    created = (await api.submit("k-evil", spec)).json()["workload"]["id"]
    report = {
        "fleet": HOSTILE,
        "faults": [
            {
                "id": "f-1",
                "action": HOSTILE,
                "cluster": "spoke-a",
                "state": "active",
                "injected_at": "2030-01-01T00:00:00Z",
                "note": ATTR,
                "detail": HOSTILE,
            }
        ],
    }
    put = await api.http.put("/v1/faults", json=report, headers=api.client)
    assert put.status_code == 200, put.text
    await login(api)
    for path in (
        "/ui/",
        "/ui/workloads",
        f"/ui/workloads/{created}",
        f"/ui/workloads?label={HOSTILE}={ATTR}",
    ):
        body = (await api.http.get(path)).text
        assert "<script>alert" not in body, path
        assert "<img src=x" not in body, path
        assert "&lt;script&gt;" in body, path
    detail = (await api.http.get(f"/ui/workloads/{created}")).text
    assert "SECRET" in detail and "hunter2" not in detail  # env names, never values


async def test_a_fault_report_at_its_cap_keeps_the_fleet_page_small(api):
    """The fleet page is fetched every 2 s: 500 faults with 1 KiB notes of characters that
    escape long made it 1 MB a fetch. The first rows and the start of each text are shown."""
    faults = [
        {
            "id": f"f-{i}",
            "action": "slow",
            "cluster": "spoke-a",
            "state": "active",
            "injected_at": "2030-01-01T00:00:00Z",
            "note": '"<&>' * 256,
            "detail": "&" * 256,
        }
        for i in range(500)
    ]
    put = await api.http.put(
        "/v1/faults", json={"fleet": "f", "faults": faults}, headers=api.client
    )
    assert put.status_code == 200, put.text
    await login(api)
    for path in ("/ui/", "/ui/fragments/fleet"):
        body = (await api.http.get(path)).text
        assert len(body.encode()) < 200_000, (path, len(body.encode()))
        assert 'data-fault="f-49"' in body and 'data-fault="f-50"' not in body, path
        assert "450 more not shown" in body and "kindfleet fault list" in body, path
        assert "&amp;" * 199 + "…" in body, path


async def test_fault_reports_need_the_client_token_and_replace_the_last(api):
    body = {"fleet": "f", "faults": []}
    assert (await api.http.put("/v1/faults", json=body)).status_code == 401
    assert (await api.http.get("/v1/faults")).status_code == 401
    first = {
        "fleet": "f",
        "faults": [
            {
                "id": "f-1",
                "action": "pause",
                "cluster": "a",
                "state": "active",
                "injected_at": "2030-01-01T00:00:00Z",
            }
        ],
    }
    assert (await api.http.put("/v1/faults", json=first, headers=api.client)).status_code == 200
    board = (await api.http.get("/v1/faults", headers=api.client)).json()
    assert [f["id"] for f in board["report"]["faults"]] == ["f-1"]
    assert board["received_at"] is not None
    await api.http.put("/v1/faults", json=body, headers=api.client)
    board = (await api.http.get("/v1/faults", headers=api.client)).json()
    assert board["report"]["faults"] == []
    too_many = {"faults": [first["faults"][0]] * 501}
    assert (await api.http.put("/v1/faults", json=too_many, headers=api.client)).status_code == 422


@pytest.mark.parametrize("field", ["injected_at", "until", "cleared_at"])
async def test_a_fault_time_utc_cannot_hold_is_refused_and_the_board_stays_up(api, field):
    """Found from outside: year 1 at +14:00 was taken, and every dashboard page answered
    500 (it is year 0 in UTC) until the next report."""
    fault = {"id": "f-1", "action": "pause", "cluster": "a", "state": "active",
             "injected_at": "2030-01-01T00:00:00Z", field: "0001-01-01T00:00:00+14:00"}  # fmt: skip
    put = await api.http.put("/v1/faults", json={"faults": [fault]}, headers=api.client)
    assert put.status_code == 422
    assert f"faults[0].{field}" in put.text and "between the years 1 and 9999" in put.text
    await login(api)
    assert (await api.http.get("/ui/")).status_code == 200


async def test_activity_counts_submissions_between_samples(api):
    board = api.app.state.dashboard
    board.sample()
    for i in range(3):
        await api.submit(f"k{i}")
    api.clock.advance(5)
    board.sample()
    activity = (await api.http.get("/v1/activity", headers=api.client)).json()
    assert [p["submitted"] for p in activity["points"]][-1] == 3
    await login(api)
    page = (await api.http.get("/ui/activity")).text
    assert re.search(r'id="last-submitted">3<', page)


async def test_a_hostile_cursor_stays_one_parameter_of_the_live_query(api):
    await login(api)
    page = (await api.http.get("/ui/workloads?cursor=x%26state%3DRunning%22%3E")).text
    assert 'hx-get="/ui/fragments/workloads?cursor=x%26state%3DRunning%22%3E"' in page
    assert '<p class="error" role="alert">' in page  # refused as a cursor, said on the page
    assert 'value="Running" selected' not in page  # the cursor set no state filter


UNSEEN = "\u202e\u2066\u200b\x00\x1b\u2028\U000e0041"


async def test_characters_a_reader_cannot_see_are_shown_as_escapes(api):
    """A label `team: "\u202elm"` read `team=ml` (the override turned it round): every
    character one cannot see is written out, in stored values and echoed queries alike."""
    spec = {"name": "bidi", "command": ["true", "a\u202eb"], "labels": {"team": "\u202elm"}}
    created = (await api.submit("k-bidi", spec)).json()["workload"]["id"]
    await login(api)
    for path in ("/ui/workloads", f"/ui/workloads/{created}"):
        body = (await api.http.get(path)).text
        assert "team=\\u202elm" in body, path
        assert not set(body) & set(UNSEEN), path
    for query in ("spoke=%00%1b%5b31m", "label=%00%3D%e2%80%ae", "state=%e2%80%8b"):
        body = (await api.http.get(f"/ui/workloads?{query}")).text
        assert not set(body) & set(UNSEEN), query
        assert "\\u00" in body or "\\u20" in body, query


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("&".join(f"label=k{i}=v" for i in range(17)), "at most 16 label filters"),
        ("label=" + ",".join(f"k{i}=v" for i in range(17)), "at most 16 label filters"),
        ("spoke=%0a", "is not a spoke name"),
        ("cursor=%ff%fe", "is not a cursor"),
        ("label=novalue", "must be key=value"),
        ("state=Pending&state=Running", "state: is given more than once"),
        ("spoke=a&spoke=b", "spoke: is given more than once"),
    ],
)
async def test_hostile_filters_are_said_on_the_page(api, query, says):
    await login(api)
    for path in ("/ui/workloads", "/ui/fragments/workloads"):
        response = await api.http.get(f"{path}?{query}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/html")
        assert says in response.text


async def test_workloads_are_paged_newest_first_with_the_filters_kept(api):
    for i in range(53):
        spec = {"name": f"w{i}", "command": ["true"], "labels": {"batch": "b"}}
        assert (await api.submit(f"page-{i}", spec)).status_code == 201
    await login(api)
    first = (await api.http.get("/ui/workloads?label=batch%3Db")).text
    names = re.findall(r'href="/ui/workloads/wl-[^"]+">(w\d+)</a>', first)
    assert len(names) == 50 and names[0] == "w52"
    older = re.search(r'id="page-older" href="([^"]+)"', first)
    assert older and "label=batch%3Db" in older.group(1)
    second = (await api.http.get(older.group(1).replace("&amp;", "&"))).text
    assert re.findall(r'href="/ui/workloads/wl-[^"]+">(w\d+)</a>', second) == ["w2", "w1", "w0"]
    assert 'id="page-newest"' in second and 'id="page-older"' not in second


async def test_a_draining_spoke_and_the_guard_are_shown(api):
    await api.register("spoke-a", labels={"zone": "a"})
    drained = await api.http.post("/v1/spokes/spoke-a/drain", headers=api.client)
    assert drained.status_code == 200, drained.text
    await login(api)
    page = (await api.http.get("/ui/fragments/fleet")).text
    row = page[page.index('id="spoke-spoke-a"') :]
    row = row[: row.index("</tr>")]
    assert 'data-health="Ready"' in row and ">draining<" in row and "zone=a" in row
    assert "Disruption guard on" not in page


async def test_the_guard_says_which_spokes_it_holds(api, monkeypatch):
    await api.register("spoke-a")
    await api.register("spoke-b")
    real = api.hub.spokes

    async def guarded_spokes() -> Any:
        listed = await real()
        guard = Guard(active=True, silent=["spoke-a", "spoke-b"], held=["spoke-b"], population=2)
        return listed.model_copy(update={"guard": guard})

    monkeypatch.setattr(api.hub, "spokes", guarded_spokes)
    await login(api)
    page = (await api.http.get("/ui/fragments/fleet")).text
    assert "Disruption guard on" in page and "Held back: spoke-b" in page
    row = page[page.index('id="spoke-spoke-b"') :]
    assert "Lost verdict held by the guard" in row[: row.index("</tr>")]
