"""The dashboard's routes: each page, and the fragment its live part polls.

A page is the whole document; its fragment is the part that changes, asked again every
`POLL` by htmx and swapped in place, so the page follows the fleet without a reload and
picks up by itself after the hub restarts (the next poll reaches the new hub). Routes
parse and make one call to the service's `Dashboard`; the session was checked before
any of them runs (`guard`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Query, Request
from starlette.responses import RedirectResponse, Response

from kindfleet.platform.hub.service.dashboard import Dashboard
from kindfleet.platform.hub.service.reads import parse_list_query
from kindfleet.platform.hub.service.refusals import (
    Gone,
    HubError,
    Invalid,
    NotFound,
    StoreUnavailable,
    Unauthorized,
)
from kindfleet.platform.hub.ui import views
from kindfleet.platform.hub.ui.guard import LOGIN, PREFIX, safe_next, same_origin
from kindfleet.platform.hub.ui.render import page
from kindfleet.platform.hub.ui.session import Sessions
from kindfleet.platform.wire import TERMINAL, WorkloadState

POLL = "every 2s"
PAGE_SIZE = 50
MAX_FORM = 8192
STOP_POLLING = 286  # htmx: swap this answer, then stop polling (a finished workload)


def install(app: FastAPI, board: Dashboard, sessions: Sessions) -> None:
    _login(app, board, sessions)
    _fleet(app, board)
    _workloads(app, board)
    _activity(app, board)


async def guarded(render: Callable[[], Awaitable[Response]]) -> Response:
    """A page or fragment, or the page that says why not (never the API's JSON errors)."""
    try:
        return await render()
    except NotFound as exc:
        return page("error.html", 404, title="Not found", message=exc.detail)
    except HubError as exc:
        return page("error.html", exc.status, title=exc.title, message=exc.detail)
    except StoreUnavailable:
        return page(
            "error.html",
            503,
            title="The hub's store is unavailable",
            message="The hub cannot read its store now; this page tries again by itself.",
        )


def _login(app: FastAPI, board: Dashboard, sessions: Sessions) -> None:
    @app.get(PREFIX, include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    @app.get(LOGIN, include_in_schema=False)
    async def login_form(request: Request, next: str = "") -> Response:
        if sessions.valid(request.cookies.get(sessions.cookie)):
            return RedirectResponse(safe_next(next), status_code=303)
        return page("login.html", title="Log in", next=safe_next(next), error=None)

    @app.post(LOGIN, include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await _form(request)
        token, target = form.get("token", "").strip(), safe_next(form.get("next"))
        if not same_origin(request):
            return page("login.html", 403, title="Log in", next=target, error="Cross-site login.")
        try:
            who = board.hub.identify(f"Bearer {token}") if token else None
        except (Unauthorized, Gone):  # a spoke credential taken back is no login either
            who = None
        if who is None or who.kind != "client":
            error = "That is not this hub's client token."
            return page("login.html", 401, title="Log in", next=target, error=error)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            sessions.cookie,
            sessions.issue(),
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @app.post(f"{PREFIX}/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        if not same_origin(request):
            return page("error.html", 403, title="Forbidden", message="Cross-site request.")
        response = RedirectResponse(LOGIN, status_code=303)
        response.delete_cookie(sessions.cookie, path=PREFIX, httponly=True, samesite="strict")
        return response


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded form (the login's), read whole; anything larger is refused."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise Invalid.at("body", "the form is too large")
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=8)
    return {k: v[0] for k, v in fields.items() if v}


def _fleet(app: FastAPI, board: Dashboard) -> None:
    async def render(template: str) -> Response:
        overview = await board.overview()
        return page(
            template,
            title="Fleet",
            nav="fleet",
            poll=POLL,
            o=overview,
            faults=views.live_faults(overview.faults),
            by_cluster=views.faults_by_cluster(overview.faults),
            faults_shown=views.FAULTS_SHOWN,
            text_shown=views.TEXT_SHOWN,
        )

    @app.get(f"{PREFIX}/", include_in_schema=False)
    async def fleet() -> Response:
        return await guarded(lambda: render("fleet.html"))

    @app.get(f"{PREFIX}/fragments/fleet", include_in_schema=False)
    async def fleet_fragment() -> Response:
        return await guarded(lambda: render("_fleet.html"))


# Counted by the service's parser, which the page then says in words (never a JSON 422).
Labels = Annotated[list[str] | None, Query()]


def _workloads(app: FastAPI, board: Dashboard) -> None:
    async def listing(
        template: str,
        state: str,
        spoke: str,
        label: list[str],
        cursor: str | None,
        *,
        whole_page: bool,
        twice: list[str],
    ) -> Response:
        wanted = [part.strip() for item in label for part in item.split(",") if part.strip()]
        filters = {"state": state, "spoke": spoke, "label": ", ".join(wanted)}
        error = None
        try:
            for name in twice:  # the last of two was taken, the first dropped unsaid
                raise Invalid.at(name, "is given more than once: the filter takes one")
            q = parse_list_query(
                limit=PAGE_SIZE,
                cursor=cursor or None,
                state=_state(state),
                spoke=spoke or None,
                labels=wanted,
            )
            listed = await board.workloads(q)
        except Invalid as exc:
            listed, error = None, exc.detail
        given = {k: v for k, v in filters.items() if v}
        query = urlencode(given)
        live = urlencode({**given, "cursor": cursor} if cursor else given)  # this page, again
        older = None
        if listed is not None and listed.next_cursor:
            older = urlencode({**given, "cursor": listed.next_cursor})
        return page(
            template,
            title="Workloads",
            nav="workloads",
            poll=POLL,
            listed=listed,
            error=error,
            filters=filters,
            query=query,
            live=live,
            cursor=cursor,
            older=older,
            states=[s.value for s in WorkloadState],
            counts=board.counts(),
            spokes=[s.name for s in (await board.hub.spokes()).items] if whole_page else [],
        )

    def route(template: str) -> Callable[..., Awaitable[Response]]:
        """The page or its fragment: the same filters, one template or the other."""
        whole = not template.startswith("_")

        async def workloads(
            state: Labels = None, spoke: Labels = None, label: Labels = None, cursor: str = ""
        ) -> Response:
            twice = [name for name, v in (("state", state), ("spoke", spoke)) if v and len(v) > 1]
            filters = (_first(state), _first(spoke), label or [], cursor or None)
            return await guarded(lambda: listing(template, *filters, whole_page=whole, twice=twice))

        return workloads

    app.get(f"{PREFIX}/workloads", include_in_schema=False)(route("workloads.html"))
    app.get(f"{PREFIX}/fragments/workloads", include_in_schema=False)(route("_workloads.html"))

    async def detail(template: str, workload_id: str, *, fragment: bool) -> Response:
        found = await board.workload(workload_id)
        w = found.workload
        done = w.state in TERMINAL and (board.hub.clock() - w.updated_at.timestamp()) > 15
        return page(
            template,
            STOP_POLLING if done and fragment else 200,
            title=f"Workload {w.spec.name}",
            nav="workloads",
            poll=POLL,
            d=found,
            w=w,
            telemetry=views.telemetry(found.telemetry),
            done=done,
        )

    @app.get(f"{PREFIX}/workloads/{{workload_id}}", include_in_schema=False)
    async def workload(workload_id: str) -> Response:
        return await guarded(lambda: detail("workload.html", workload_id, fragment=False))

    @app.get(f"{PREFIX}/fragments/workloads/{{workload_id}}", include_in_schema=False)
    async def workload_fragment(workload_id: str) -> Response:
        return await guarded(lambda: detail("_workload.html", workload_id, fragment=True))


def _first(values: list[str] | None) -> str:
    return values[0] if values else ""


def _state(text: str) -> WorkloadState | None:
    if not text:
        return None
    try:
        return WorkloadState(text)
    except ValueError:
        raise Invalid.at("state", f"{text!r} is not a workload state") from None


def _activity(app: FastAPI, board: Dashboard) -> None:
    def render(template: str) -> Response:
        activity = board.activity.view()
        return page(
            template,
            title="Throughput",
            nav="activity",
            poll="every 5s",
            a=activity,
            t=views.throughput(activity),
            counts=board.counts(),
        )

    @app.get(f"{PREFIX}/activity", include_in_schema=False)
    async def activity() -> Response:
        return render("activity.html")

    @app.get(f"{PREFIX}/fragments/activity", include_in_schema=False)
    async def activity_fragment() -> Response:
        return render("_activity.html")
