"""Every error the hub answers is a `ProblemDetail`, and no input gets a 500.

Validation errors carry field paths in the form a user would write them
(`resources.gpu`, `items[3].spec.command`, `query.limit`), never the rejected value:
a bad payload may well hold a secret in an env var.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from kindfleet.platform.hub.service.refusals import HubError, StoreUnavailable
from kindfleet.platform.repeats import Repeats
from kindfleet.platform.wire import (
    KEY_NOT_PRINTABLE,
    KEY_REQUIRED,
    KEY_TOO_LONG,
    PATTERN_WORDS,
    ProblemDetail,
)

log = logging.getLogger("kindfleet.hub")

JSON = "application/json"
PROBLEM = "application/problem+json"
STORE_DOWN = "the hub's store cannot serve this request now; retry later (see the hub's log)"
STORE_LOG_EVERY = 30.0  # seconds: a store that is down is said once per reason, not per request
_store_down = Repeats(log, every=STORE_LOG_EVERY)


def store_down(exc: StoreUnavailable) -> None:
    """The store's own words (and what to do) go to the hub's log, which the answer points
    to: never into a body (they may hold SQL or paths), never once per request."""
    _store_down.error(f"store unavailable, answering 503: {exc}")


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    errors: Sequence[Mapping[str, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = ProblemDetail(
        title=title, status=status, detail=detail, errors=[dict(e) for e in errors]
    )
    return Response(body.model_dump_json(), status_code=status, media_type=PROBLEM, headers=headers)


def field_path(loc: Iterable[Any]) -> str:
    """('body', 'items', 3, 'spec', 'command') -> 'items[3].spec.command'."""
    parts = list(loc)
    if parts and parts[0] in ("body", "header"):
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


# What the route's header constraints found, said as the fast path and the service say it.
_KEY_PROBLEMS = {"string_too_long": KEY_TOO_LONG, "string_pattern_mismatch": KEY_NOT_PRINTABLE}


def validation_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    found = []
    for err in errors:
        message = str(err.get("msg", "invalid"))
        if err.get("type") == "json_invalid":  # where and why, never the body's own text
            reason = str((err.get("ctx") or {}).get("error", "")).split("\n", 1)[0][:200]
            message = "the body is not valid JSON" + (f": {reason}" if reason else "")
        elif tuple(err.get("loc", ())) == ("header", "Idempotency-Key"):
            message = _KEY_PROBLEMS.get(str(err.get("type")), KEY_REQUIRED)
        elif err.get("type") == "string_pattern_mismatch":
            words = PATTERN_WORDS.get(str(err.get("ctx", {}).get("pattern")))
            message = f"{words[0]}: {words[1]}" if words else message
        found.append({"path": field_path(err.get("loc", ())), "message": message})
    return found


def invalid(errors: list[dict[str, str]]) -> Response:
    detail = "; ".join(f"{e['path']}: {e['message']}" for e in errors[:5])
    return problem(422, "Unprocessable Content", detail or "invalid request", errors)


def install(app: FastAPI) -> None:
    async def on_hub_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HubError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem(exc.status, exc.title, exc.detail, exc.errors, headers)

    async def on_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return invalid(validation_errors(exc.errors()))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        headers = exc.headers
        if exc.status_code == 405:
            headers = {"Allow": allowed(request)}
        return problem(exc.status_code, _title(exc.status_code), str(exc.detail), headers=headers)

    async def on_store(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StoreUnavailable)
        store_down(exc)
        return problem(503, "Service Unavailable", STORE_DOWN)

    async def on_anything(_: Request, exc: Exception) -> Response:
        log.error("unexpected %s while answering a request", type(exc).__name__, exc_info=exc)
        return problem(500, "Internal Server Error", "the hub failed to answer; see its log")

    app.add_exception_handler(HubError, on_hub_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(StoreUnavailable, on_store)
    app.add_exception_handler(Exception, on_anything)


def allowed(request: Request) -> str:
    """Every method of the path template the request's path matched first (a template
    such as /v1/spokes/{name} is served by several routes, one per method)."""
    template = None
    methods: set[str] = set()
    for route in request.app.router.routes:
        if not isinstance(route, APIRoute):
            continue
        if template is None and route.path_regex.match(request.url.path) is not None:
            template = route.path
        if template is not None and route.path == template:
            methods |= set(route.methods or ())
    return ", ".join(sorted(methods))


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
