"""The hub's routes: each authenticates, parses, makes one call to the service, answers.

No rule lives here: what a route means is in `service`, what is allowed in `rules`.
The OpenAPI document still describes every body the routes read themselves (`openapi`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import FastAPI, Header, Query, Request, Response

from kindfleet.platform.hub.api import openapi, problems
from kindfleet.platform.hub.api.authn import Bootstrap, Client, Spoke
from kindfleet.platform.hub.api.bodies import json_response, read_model
from kindfleet.platform.hub.rules.times import epoch
from kindfleet.platform.hub.service.hub_service import HubService
from kindfleet.platform.hub.service.metrics import CONTENT_TYPE
from kindfleet.platform.hub.service.reads import ListQuery, TelemetryQuery, parse_list_query
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


def install(app: FastAPI, hub: HubService) -> None:
    """Every route of the hub: authenticate, parse, one call to the service, answer."""
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
