"""The hub's HTTP face as one ASGI app: routes, error bodies, the OpenAPI, middleware.

Routes are thin on purpose (`routes`); what they do is in `service`, what is allowed in
`rules`. The app's lifespan opens the store and runs the scheduler (`service.running`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from kindfleet._version import __version__
from kindfleet.platform.hub import ui
from kindfleet.platform.hub.api import dashboard, openapi, problems, routes
from kindfleet.platform.hub.api.fastpath import FastPaths
from kindfleet.platform.hub.api.middleware import RequestMetrics
from kindfleet.platform.hub.service.dashboard import Dashboard
from kindfleet.platform.hub.service.hub_service import HubService
from kindfleet.platform.hub.service.scheduler import running
from kindfleet.platform.hub.settings import HubSettings
from kindfleet.platform.wire import ProblemDetail


class HubApp(FastAPI):
    """FastAPI with the hub's request metrics and fast paths in front of its own stack.

    Middleware added with `add_middleware` runs inside FastAPI's error, telemetry and
    body-limit layers, which cost a submission more than its parse does (issue 17). The
    fast paths catch their own errors and enforce their own body limit, so they sit in
    front; whatever they do not answer goes through FastAPI whole.
    """

    front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is None:
            await super().__call__(scope, receive, send)
        else:
            await self.front(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


def create_app(
    settings: HubSettings,
    *,
    clock: Callable[[], float] = time.time,
    service: HubService | None = None,
    fast_path: bool = True,
) -> HubApp:
    """The hub as an ASGI app; its lifespan opens the store and runs the scheduler.

    `fast_path=False` leaves submit, list and get to the FastAPI routes (tests check that
    both answer alike)."""
    hub = service or HubService(settings, clock=clock)
    board = Dashboard(hub)  # dashboard (issue 16): its reads, fault reports, activity

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with running(hub), board.sampling():
            yield

    app = HubApp(
        title="kindfleet hub",
        version=__version__,
        description="Workload API, placement, spoke leases and telemetry of kindfleet.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        separate_input_output_schemas=False,
        responses={
            status: {"model": ProblemDetail, "description": text}
            for status, text in (
                (401, "missing or invalid token"),
                (403, "a valid token of the wrong kind"),
                (422, "invalid payload; errors name each field"),
                (503, "the store is unavailable"),
            )
        },
    )
    app.state.hub = hub
    app.state.dashboard = board
    problems.install(app)
    routes.install(app, hub)
    dashboard.install(app, board)
    ui.install(app, board)
    openapi.install(app)
    inner: ASGIApp = app.framework
    if fast_path:
        inner = FastPaths(inner, hub=hub)
    app.front = RequestMetrics(inner, metrics=hub.metrics)
    return app
