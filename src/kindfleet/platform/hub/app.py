"""The hub's HTTP face: routes that authenticate, parse, call the service, serialise.

Routes are thin on purpose; what they do is in `service`. Bodies are parsed here rather
than by FastAPI so that authentication always comes first (an anonymous caller learns
nothing, not even that its JSON is broken), size is capped, and the hot submission path
pays for one JSON parse. The OpenAPI document still describes every body (`openapi.py`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, FastAPI, Header, Query, Request, Response
from pydantic import BaseModel

from kindfleet._version import __version__
from kindfleet.platform.hub import auth, openapi, problems
from kindfleet.platform.hub.auth import Principal
from kindfleet.platform.hub.errors import TooLarge
from kindfleet.platform.hub.fastpath import MAX_BODY, FastSubmit, parse, read_body
from kindfleet.platform.hub.metrics import CONTENT_TYPE, RequestMetrics
from kindfleet.platform.hub.queries import ListQuery, TelemetryQuery, parse_list_query
from kindfleet.platform.hub.scheduler import Scheduler
from kindfleet.platform.hub.service import HubService
from kindfleet.platform.hub.settings import HubSettings
from kindfleet.platform.hub.times import epoch
from kindfleet.platform.wire import (
    API_PREFIX,
    AssignmentBatch,
    BatchSubmitRequest,
    BatchSubmitResponse,
    EventAck,
    EventBatch,
    Explanation,
    HeartbeatRequest,
    HeartbeatResponse,
    ProblemDetail,
    RegisterRequest,
    RegisterResponse,
    SpokeList,
    SubmitResponse,
    TelemetrySeries,
    Workload,
    WorkloadList,
    WorkloadSpec,
    WorkloadState,
)

M = TypeVar("M", bound=BaseModel)


def create_app(
    settings: HubSettings,
    *,
    clock: Callable[[], float] = time.time,
    service: HubService | None = None,
    fast_path: bool = True,
) -> FastAPI:
    """The hub as an ASGI app; its lifespan opens the store and runs the scheduler.

    `fast_path=False` leaves `POST /v1/workloads` to the FastAPI route (tests check that
    both answer alike)."""
    hub = service or HubService(settings, clock=clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with running(hub):
            yield

    app = FastAPI(
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
    problems.install(app)
    _routes(app, hub)
    openapi.install(app)
    if fast_path:
        app.add_middleware(FastSubmit, hub=hub)
    app.add_middleware(RequestMetrics, metrics=hub.metrics)
    return app


@asynccontextmanager
async def running(hub: HubService) -> AsyncIterator[HubService]:
    """Open the store, run the scheduler; on the way out stop both, in that order."""
    await hub.start()
    settings = hub.settings
    scheduler = Scheduler(hub, settings.tick_seconds) if settings.scheduler else None
    if scheduler is not None:
        scheduler.start()
    try:
        yield hub
    finally:
        if scheduler is not None:
            await scheduler.stop()
        await hub.close()


async def read_model(request: Request, model: type[M]) -> M:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise TooLarge(f"the body is larger than {MAX_BODY} bytes")
    return parse(model, await read_body(request.receive))


def json_response(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type=problems.JSON)


async def _who(request: Request) -> Principal:
    hub: HubService = request.app.state.hub
    return hub.identify(request.headers.get("authorization"))


async def _client(p: Annotated[Principal, Depends(_who)]) -> Principal:
    auth.require_client(p)
    return p


async def _bootstrap(p: Annotated[Principal, Depends(_who)]) -> Principal:
    auth.require_bootstrap(p)
    return p


async def _spoke(name: str, p: Annotated[Principal, Depends(_who)]) -> Principal:
    auth.require_spoke(p, name)
    return p


Client = Annotated[Principal, Depends(_client)]
Bootstrap = Annotated[Principal, Depends(_bootstrap)]
Spoke = Annotated[Principal, Depends(_spoke)]


def _routes(app: FastAPI, hub: HubService) -> None:
    v1 = API_PREFIX

    @app.post(
        f"{v1}/workloads",
        status_code=201,
        response_model=SubmitResponse,
        openapi_extra=openapi.body(WorkloadSpec),
        responses={200: {"model": SubmitResponse, "description": "seen before: the original"}},
        tags=["workloads"],
    )
    async def submit(
        request: Request,
        _: Client,
        idempotency_key: Annotated[
            str | None,
            Header(alias="Idempotency-Key", description="required: a unique key per workload"),
        ] = None,
    ) -> Response:
        """Submit one workload; durably stored when this answers 2xx."""
        spec = await read_model(request, WorkloadSpec)
        result = await hub.submit(idempotency_key, spec)
        return json_response(result, 201 if result.created else 200)

    @app.post(
        f"{v1}/workloads:batch",
        status_code=201,
        response_model=BatchSubmitResponse,
        openapi_extra=openapi.body(BatchSubmitRequest),
        tags=["workloads"],
    )
    async def submit_batch(request: Request, _: Client) -> Response:
        """Submit many workloads in one transaction, each with its own idempotency key."""
        batch = await read_model(request, BatchSubmitRequest)
        results = await hub.submit_batch(batch.items)
        status = 201 if any(r.created for r in results) else 200
        return json_response(BatchSubmitResponse(results=results), status)

    @app.get(f"{v1}/workloads", response_model=WorkloadList, tags=["workloads"])
    async def list_workloads(
        _: Client,
        state: WorkloadState | None = None,
        spoke: str | None = None,
        label: Annotated[list[str] | None, Query(description="k=v, repeatable")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: str | None = None,
    ) -> Response:
        """Workloads, newest first, one page at a time."""
        q: ListQuery = parse_list_query(
            limit=limit, cursor=cursor, state=state, spoke=spoke, labels=label or []
        )
        return json_response(await hub.list_workloads(q))

    @app.get(f"{v1}/workloads/{{workload_id}}", response_model=Workload, tags=["workloads"])
    async def get_workload(workload_id: str, _: Client) -> Response:
        return json_response(await hub.get(workload_id))

    @app.post(f"{v1}/workloads/{{workload_id}}/cancel", response_model=Workload, tags=["workloads"])
    async def cancel_workload(workload_id: str, _: Client) -> Response:
        """Pending: Cancelled now. Assigned or Running: the spoke is told to stop it."""
        return json_response(await hub.cancel(workload_id))

    @app.get(
        f"{v1}/workloads/{{workload_id}}/explain", response_model=Explanation, tags=["workloads"]
    )
    async def explain_workload(workload_id: str, _: Client) -> Response:
        """Why is it still pending: each spoke's verdict and the queue position."""
        return json_response(await hub.explain(workload_id))

    @app.get(f"{v1}/spokes", response_model=SpokeList, tags=["spokes"])
    async def list_spokes(_: Client) -> Response:
        return json_response(await hub.spokes())

    @app.get(f"{v1}/telemetry", response_model=list[TelemetrySeries], tags=["telemetry"])
    async def telemetry(
        _: Client,
        workload: str | None = None,
        spoke: str | None = None,
        since: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    ) -> Response:
        q = TelemetryQuery(
            workload=workload,
            spoke=spoke,
            since=None if since is None else epoch(since, default=0.0),
            limit=limit,
        )
        series = await hub.telemetry(q)
        body = b"[" + b",".join(s.model_dump_json().encode() for s in series) + b"]"
        return Response(body, media_type=problems.JSON)

    @app.post(
        f"{v1}/spokes/register",
        response_model=RegisterResponse,
        openapi_extra=openapi.body(RegisterRequest),
        tags=["spoke protocol"],
    )
    async def register(request: Request, _: Bootstrap) -> Response:
        """Bootstrap token in, the spoke's own credential out (shown once)."""
        req = await read_model(request, RegisterRequest)
        return json_response(await hub.register(req))

    @app.post(
        f"{v1}/spokes/{{name}}/heartbeat",
        response_model=HeartbeatResponse,
        openapi_extra=openapi.body(HeartbeatRequest),
        tags=["spoke protocol"],
    )
    async def heartbeat(name: str, request: Request, _: Spoke) -> Response:
        req = await read_model(request, HeartbeatRequest)
        return json_response(await hub.heartbeat(name, req))

    @app.get(
        f"{v1}/spokes/{{name}}/assignments",
        response_model=AssignmentBatch,
        tags=["spoke protocol"],
    )
    async def assignments(
        name: str, _: Spoke, wait: Annotated[float, Query(ge=0, le=3600)] = 0
    ) -> Response:
        """Long-poll: answers at once when there is work or a cancellation, else after wait."""
        return json_response(await hub.poll(name, wait))

    @app.post(
        f"{v1}/spokes/{{name}}/events",
        response_model=EventAck,
        openapi_extra=openapi.body(EventBatch),
        tags=["spoke protocol"],
    )
    async def events(name: str, request: Request, _: Spoke) -> Response:
        batch = await read_model(request, EventBatch)
        return json_response(await hub.ingest(name, batch))

    @app.get("/healthz", tags=["probes"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["probes"])
    async def readyz() -> Response:
        try:
            await hub.ready()
        except Exception:
            return problems.problem(503, "Service Unavailable", "the store is not reachable")
        return Response(b'{"status":"ready"}', media_type=problems.JSON)

    @app.get("/metrics", tags=["probes"])
    async def metrics(_: Client) -> Response:
        return Response(hub.metrics.render(), media_type=CONTENT_TYPE)
