"""The hub's hot paths without the framework in the way: submit, list, get, and the
spokes' reports and long polls.

FastAPI's per-request machinery (dependency solving, parameter extraction, exception
middleware) costs more than the work itself: for `POST /v1/workloads` more than the
submission, for the reads several times the read (issue 17 measured the list at 0.012
of a bare endpoint serving the same bytes). So this ASGI middleware answers exactly these
five itself, with the same steps the FastAPI routes take (parse, one call to the
service, the same ProblemDetail errors), and hands every other request to FastAPI.

It answers only requests it is certain about: authenticated as a client (as the spoke
named in the path, for the spoke routes), by exactly one Authorization header; for a
submission, exactly one Idempotency-Key the route's header constraints accept and at most
one Content-Type; for a list, a query `fastreads` can read; for a long poll, a `wait`
`fastspokes` can. Everything else (401, 403, a missing or odd key, a doubtful query, any
query on a route that takes none, a repeated header, which FastAPI would read the first
of) goes to the route, so the errors
of authentication and of headers are the route's own. The FastAPI routes stay registered:
they document the endpoints in the OpenAPI and are the reference the tests compare these
with, byte for byte.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from kindfleet.platform.hub.api import fastreads, fastspokes, problems
from kindfleet.platform.hub.api.bodies import read_json
from kindfleet.platform.hub.service import tokens
from kindfleet.platform.hub.service.hub_service import HubService
from kindfleet.platform.hub.service.refusals import HubError, StoreUnavailable
from kindfleet.platform.hub.service.submit import valid_key
from kindfleet.platform.hub.service.tokens import Principal
from kindfleet.platform.wire import EventBatch, ProblemDetail, WorkloadSpec

log = logging.getLogger("kindfleet.hub")

PATH = fastreads.LIST_PATH
Answer = tuple[int, bytes]
# The headers a fast path reads; each must come at most once, or the route answers.
_READ = frozenset({b"authorization", b"idempotency-key", b"content-type", b"content-length"})


class _Route:
    """What the request metrics read of a route: its template."""

    def __init__(self, path: str) -> None:
        self.path = path


_LIST = _Route(PATH)
_GET = _Route(fastreads.GET_TEMPLATE)
_EVENTS = _Route(fastspokes.EVENTS_TEMPLATE)
_ASSIGNMENTS = _Route(fastspokes.ASSIGNMENTS_TEMPLATE)


class FastPaths:
    def __init__(self, app: ASGIApp, hub: HubService) -> None:
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        work = self._take(scope, receive) if scope["type"] == "http" else None
        if work is None:
            await self.app(scope, receive, send)
        else:
            await self._answer(send, work)

    def _take(self, scope: Scope, receive: Receive) -> Awaitable[Answer] | None:
        """The work of answering this request here, or None: the route's to answer."""
        method, path = scope["method"], scope["path"]
        if method == "POST" and path == PATH:
            return self._take_submit(scope, receive)
        spoke = fastspokes.spoke_route(path)
        if spoke is not None:
            return self._take_spoke(scope, receive, method, *spoke)
        if method == "GET":
            return self._take_read(scope, path)
        return None

    def _take_spoke(
        self, scope: Scope, receive: Receive, method: str, name: str, route: str
    ) -> Awaitable[Answer] | None:
        """A spoke's report or long poll, from that spoke's own credential only."""
        headers = _headers(scope)
        if headers is None or (who := self._spoke(headers, name)) is None:
            return None
        if route == fastspokes.EVENTS and method == "POST" and not scope["query_string"]:
            scope["route"] = _EVENTS
            return self._events(name, headers, receive, who.digest)
        wait = fastspokes.poll_wait(scope["query_string"])
        if route == fastspokes.ASSIGNMENTS and method == "GET" and wait is not None:
            scope["route"] = _ASSIGNMENTS
            return self._poll(name, wait, who.digest)
        return None

    def _take_submit(self, scope: Scope, receive: Receive) -> Awaitable[Answer] | None:
        headers = _headers(scope)
        key = headers.get(b"idempotency-key") if headers is not None else None
        if headers is None or key is None or not valid_key(key) or not self._client(headers):
            return None
        if scope["query_string"]:  # the route takes none: it refuses them by name
            return None
        scope["route"] = _LIST
        return self._submit(key, headers, receive)

    def _take_read(self, scope: Scope, path: str) -> Awaitable[Answer] | None:
        if path == PATH:
            q = fastreads.list_query(scope["query_string"])
            if q is None or not self._client(_headers(scope)):
                return None
            scope["route"] = _LIST
            return _ok(self.hub.list_json(q))
        wid = fastreads.workload_id(path)
        if wid is None or scope["query_string"] or not self._client(_headers(scope)):
            return None
        scope["route"] = _GET
        return _ok(self.hub.get_json(wid))

    def _client(self, headers: dict[bytes, str] | None) -> bool:
        """Authenticated as a client; anything else is the route's to answer (401, 403)."""
        return self._authenticated(headers, tokens.require_client) is not None

    def _spoke(self, headers: dict[bytes, str], name: str) -> Principal | None:
        """Authenticated as spoke `name`; anything else is the route's to answer."""
        return self._authenticated(headers, lambda who: tokens.require_spoke(who, name))

    def _authenticated(
        self, headers: dict[bytes, str] | None, require: Callable[[Principal], None]
    ) -> Principal | None:
        if headers is None or b"authorization" not in headers:
            return None
        try:
            who = self.hub.identify(headers[b"authorization"])
            require(who)
        except HubError:
            return None
        return who

    async def _answer(self, send: Send, work: Awaitable[Answer]) -> None:
        content_type = problems.JSON
        try:
            status, body = await work
        except HubError as exc:
            status, body = exc.status, _problem(exc.status, exc.title, exc.detail, exc.errors)
            content_type = problems.PROBLEM
        except StoreUnavailable as exc:
            problems.store_down(exc)
            status, body = 503, _problem(503, "Service Unavailable", problems.STORE_DOWN)
            content_type = problems.PROBLEM
        except Exception as exc:
            log.error("unexpected %s while answering", type(exc).__name__, exc_info=exc)
            status = 500
            body = _problem(500, "Internal Server Error", "the hub failed to answer; see its log")
            content_type = problems.PROBLEM
        headers = [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", content_type.encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _submit(self, key: str, headers: dict[bytes, str], receive: Receive) -> Answer:
        spec = await read_json(
            WorkloadSpec, headers.get(b"content-type"), headers.get(b"content-length"), receive
        )
        created, body = await self.hub.submit_json(key, spec)
        return (201 if created else 200), body

    async def _events(
        self, name: str, headers: dict[bytes, str], receive: Receive, credential: str | None
    ) -> Answer:
        batch = await read_json(
            EventBatch, headers.get(b"content-type"), headers.get(b"content-length"), receive
        )
        return 200, (await self.hub.ingest(name, batch, credential)).model_dump_json().encode()

    async def _poll(self, name: str, wait: float, credential: str | None) -> Answer:
        return 200, (await self.hub.poll(name, wait, credential)).model_dump_json().encode()


def _headers(scope: Scope) -> dict[bytes, str] | None:
    """The headers the fast paths read, decoded as Starlette does; None if one repeats."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _READ:
            if name in found:
                return None
            found[name] = value.decode("latin-1")
    return found


async def _ok(body: Awaitable[bytes]) -> Answer:
    return 200, await body


def _problem(
    status: int, title: str, detail: str | None, errors: list[dict[str, str]] | None = None
) -> bytes:
    body = ProblemDetail(title=title, status=status, detail=detail, errors=errors or [])
    return body.model_dump_json().encode()
