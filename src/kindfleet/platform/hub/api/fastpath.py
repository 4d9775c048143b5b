"""`POST /v1/workloads` without the framework in the way: the hub's one hot path.

FastAPI's per-request machinery (dependency solving, parameter extraction, exception
middleware) costs more than the submission itself. At the 2,000 durable submissions a
second the hub must sustain on two cores, that difference decides the target, so this
ASGI middleware answers exactly that method and path itself, with the same steps the
FastAPI route takes (authenticate first, cap and parse the body, `service.submit`, the
same ProblemDetail errors) and hands every other request to FastAPI. The FastAPI route
stays registered: it documents the endpoint in the OpenAPI and serves as the reference.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from kindfleet.platform.hub.api import problems
from kindfleet.platform.hub.api.bodies import parse, read_body, require_json
from kindfleet.platform.hub.service import tokens
from kindfleet.platform.hub.service.hub_service import HubService
from kindfleet.platform.hub.service.refusals import HubError, StoreUnavailable
from kindfleet.platform.wire import API_PREFIX, ProblemDetail, WorkloadSpec

log = logging.getLogger("kindfleet.hub")

PATH = f"{API_PREFIX}/workloads"


class _Route:
    path = PATH


class FastSubmit:
    def __init__(self, app: ASGIApp, hub: HubService) -> None:
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = _Route  # for the request metrics
        try:
            status, body = await self._submit(scope, receive)
            content_type = problems.JSON
        except HubError as exc:
            status, body = exc.status, _problem(exc.status, exc.title, exc.detail, exc.errors)
            content_type = problems.PROBLEM
        except StoreUnavailable:
            status, body = 503, _problem(503, "Service Unavailable", problems.STORE_DOWN)
            content_type = problems.PROBLEM
        except Exception as exc:
            log.error("unexpected %s while submitting", type(exc).__name__, exc_info=exc)
            status = 500
            body = _problem(500, "Internal Server Error", "the hub failed to answer; see its log")
            content_type = problems.PROBLEM
        headers = [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _submit(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
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
