"""The hub's hot paths without the framework in the way: submit, list, get.

FastAPI's per-request machinery (dependency solving, parameter extraction, exception
middleware) costs more than the work itself: for `POST /v1/workloads` more than the
submission, for `GET /v1/workloads/{id}` several times the read (issue 17 measured the
list at 0.012 of a bare endpoint serving the same bytes). So this ASGI middleware
answers exactly these three itself, with the same steps the FastAPI routes take
(authenticate first, parse, one call to the service, the same ProblemDetail errors), and
hands every other request to FastAPI. The reads answer only requests that are certainly
well formed and authenticated as a client (`fastreads`); any doubt goes to the route.
The FastAPI routes stay registered: they document the endpoints in the OpenAPI and are
the reference the tests compare these with, byte for byte.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from starlette.types import ASGIApp, Receive, Scope, Send

from kindfleet.platform.hub.api import fastreads, problems
from kindfleet.platform.hub.api.bodies import parse, read_body, require_json
from kindfleet.platform.hub.service import tokens
from kindfleet.platform.hub.service.hub_service import HubService
from kindfleet.platform.hub.service.refusals import HubError, StoreUnavailable
from kindfleet.platform.wire import ProblemDetail, WorkloadSpec

log = logging.getLogger("kindfleet.hub")

PATH = fastreads.LIST_PATH
Answer = tuple[int, bytes]


class _Route:
    """What the request metrics read of a route: its template."""

    def __init__(self, path: str) -> None:
        self.path = path


_LIST = _Route(PATH)
_GET = _Route(fastreads.GET_TEMPLATE)


class FastPaths:
    def __init__(self, app: ASGIApp, hub: HubService) -> None:
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            if method == "POST" and path == PATH:
                scope["route"] = _LIST
                await self._answer(send, self._submit(scope, receive))
                return
            if method == "GET" and self._client(scope):
                if path == PATH:
                    q = fastreads.list_query(scope["query_string"])
                    if q is not None:
                        scope["route"] = _LIST
                        await self._answer(send, self.hub.list_json(q))
                        return
                elif (wid := fastreads.workload_id(path)) is not None:
                    scope["route"] = _GET
                    await self._answer(send, self.hub.get_json(wid), status=200)
                    return
        await self.app(scope, receive, send)

    def _client(self, scope: Scope) -> bool:
        """Authenticated as a client; anything else is the route's to answer (401, 403)."""
        for name, value in scope["headers"]:
            if name == b"authorization":
                try:
                    tokens.require_client(self.hub.identify(value.decode("latin-1")))
                except HubError:
                    return False
                return True
        return False

    async def _answer(self, send: Send, work: Awaitable[bytes | Answer], status: int = 200) -> None:
        content_type = problems.JSON
        try:
            result = await work
            if isinstance(result, tuple):
                status, body = result
            else:
                body = result
        except HubError as exc:
            status, body = exc.status, _problem(exc.status, exc.title, exc.detail, exc.errors)
            content_type = problems.PROBLEM
        except StoreUnavailable:
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
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _submit(self, scope: Scope, receive: Receive) -> Answer:
        authorization = key = content_type = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"idempotency-key":
                key = value.decode("latin-1")
            elif name == b"content-type":
                content_type = value.decode("latin-1")
        tokens.require_client(self.hub.identify(authorization))
        require_json(content_type)
        spec = parse(WorkloadSpec, await read_body(receive))
        result = await self.hub.submit(key, spec)
        return (201 if result.created else 200), result.model_dump_json().encode()


def _problem(
    status: int, title: str, detail: str | None, errors: list[dict[str, str]] | None = None
) -> bytes:
    body = ProblemDetail(title=title, status=status, detail=detail, errors=errors or [])
    return body.model_dump_json().encode()
