"""The hub's routes: each authenticates, parses, makes one call to the service, answers.

No rule lives here: what a route means is in `service`, what is allowed in `rules`.
The OpenAPI document still describes every body the routes read themselves (`openapi`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import FastAPI, Header, Path, Query, Request, Response
from pydantic import StringConstraints

from kindfleet.platform.hub.api import fastspokes, openapi, problems
from kindfleet.platform.hub.api.authn import Client, Joining, SameStore, Spoke
from kindfleet.platform.hub.api.bodies import (
    json_response,
    once,
    raw_json,
    read_model,
    read_optional,
)
from kindfleet.platform.hub.api.oneatatime import PerSpoke
from kindfleet.platform.hub.api.openapi import errors
from kindfleet.platform.hub.rules.times import epoch
from kindfleet.platform.hub.service.hub_service import HubService
from kindfleet.platform.hub.service.metrics import CONTENT_TYPE
from kindfleet.platform.hub.service.reads import ListQuery, TelemetryQuery, parse_list_query
from kindfleet.platform.hub.service.refusals import Invalid
from kindfleet.platform.hub.service.submit import MAX_KEY
from kindfleet.platform.wire import (
    API_PREFIX,
    IDEMPOTENCY_KEY,
    WORKLOAD_ID,
    AssignmentBatch,
    BatchSubmitRequest,
    BatchSubmitResponse,
    EventAck,
    EventBatch,
    Explanation,
    HeartbeatRequest,
    HeartbeatResponse,
    JoinToken,
    JoinTokenRequest,
    RegisterRequest,
    RegisterResponse,
    SpokeList,
    SpokeRemoval,
    SubmitResponse,
    TelemetrySeries,
    Workload,
    WorkloadList,
    WorkloadSpec,
    WorkloadState,
)
from kindfleet.platform.wire import Spoke as SpokeModel

NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
LABEL_FILTER = r"^[^=\x00-\x1f]{1,317}=[^\x00-\x1f]{0,63}$"
LabelFilter = Annotated[str, StringConstraints(pattern=LABEL_FILTER)]
TIMESTAMP = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?$"
)
SpokeName = Annotated[str, Path(min_length=1, max_length=63, pattern=NAME)]
WorkloadId = Annotated[str, Path(min_length=23, max_length=23, pattern=WORKLOAD_ID)]


def install(app: FastAPI, hub: HubService) -> None:
    """Every route of the hub: authenticate, parse, one call to the service, answer.

    The spoke protocol comes before the operators' routes: `/v1/spokes/register` is the
    register route, not a spoke named "register"."""
    _workloads(app, hub)
    _spoke_protocol(app, hub)
    _operators(app, hub)
    _probes(app, hub)


def parse_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise Invalid.at("query.since", "is not an RFC 3339 time") from None


def _workloads(app: FastAPI, hub: HubService) -> None:
    v1 = API_PREFIX

    @app.post(
        f"{v1}/workloads",
        status_code=201,
        response_model=SubmitResponse,
        openapi_extra=openapi.body(WorkloadSpec),
        responses={
            200: {"model": SubmitResponse, "description": "seen before: the original"},
            **errors(409),
        },
        tags=["workloads"],
    )
    async def submit(
        request: Request,
        _: Client,
        idempotency_key: Annotated[
            str,
            Header(
                alias="Idempotency-Key",
                min_length=1,
                max_length=MAX_KEY,
                pattern=IDEMPOTENCY_KEY,
                description="a unique key per workload: a retried submission never creates "
                "a second one",
            ),
        ],
    ) -> Response:
        """Submit one workload; durably stored when this answers 2xx."""
        once(request, "Idempotency-Key")
        spec = await read_model(request, WorkloadSpec)
        result = await hub.submit(idempotency_key, spec)
        return json_response(result, 201 if result.created else 200)

    @app.post(
        f"{v1}/workloads:batch",
        status_code=201,
        response_model=BatchSubmitResponse,
        openapi_extra=openapi.body(BatchSubmitRequest),
        responses={
            200: {"model": BatchSubmitResponse, "description": "every key seen before"},
            **errors(409),
        },
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
        spoke: Annotated[str | None, Query(max_length=63, pattern=NAME)] = None,
        label: Annotated[
            list[LabelFilter] | None,
            Query(description="k=v, repeatable (at most 16)", max_length=16),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
    ) -> Response:
        """Workloads, newest first, one page at a time."""
        q: ListQuery = parse_list_query(
            limit=limit, cursor=cursor, state=state, spoke=spoke, labels=label or []
        )
        return raw_json(await hub.list_json(q))

    @app.get(
        f"{v1}/workloads/{{workload_id}}",
        response_model=Workload,
        responses=errors(404),
        tags=["workloads"],
    )
    async def get_workload(workload_id: WorkloadId, _: Client) -> Response:
        return raw_json(await hub.get_json(workload_id))

    @app.post(
        f"{v1}/workloads/{{workload_id}}/cancel",
        response_model=Workload,
        responses=errors(404, 409),
        tags=["workloads"],
    )
    async def cancel_workload(workload_id: WorkloadId, _: Client) -> Response:
        """Pending: Cancelled now. Assigned or Running: the spoke is told to stop it."""
        return json_response(await hub.cancel(workload_id))

    @app.get(
        f"{v1}/workloads/{{workload_id}}/explain",
        response_model=Explanation,
        responses=errors(404),
        tags=["workloads"],
    )
    async def explain_workload(workload_id: WorkloadId, _: Client) -> Response:
        """Why is it still pending: each spoke's verdict and the queue position."""
        return json_response(await hub.explain(workload_id))

    @app.get(f"{v1}/telemetry", response_model=list[TelemetrySeries], tags=["telemetry"])
    async def telemetry(
        _: Client,
        workload: Annotated[str | None, Query(pattern=WORKLOAD_ID)] = None,
        spoke: Annotated[str | None, Query(max_length=63, pattern=NAME)] = None,
        since: Annotated[
            str | None,
            Query(
                pattern=TIMESTAMP,
                description="RFC 3339 time",
                json_schema_extra={"format": "date-time"},
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    ) -> Response:
        q = TelemetryQuery(
            workload=workload,
            spoke=spoke,
            since=None if since is None else epoch(parse_time(since), default=0.0),
            limit=limit,
        )
        series = await hub.telemetry(q)
        body = b"[" + b",".join(s.model_dump_json().encode() for s in series) + b"]"
        return Response(body, media_type=problems.JSON)


def _operators(app: FastAPI, hub: HubService) -> None:
    v1 = API_PREFIX

    @app.get(f"{v1}/spokes", response_model=SpokeList, tags=["spokes"])
    async def list_spokes(_: Client) -> Response:
        """Every spoke: health, capacity, approval, drain; and the disruption guard."""
        return json_response(await hub.spokes())

    @app.get(
        f"{v1}/spokes/{{name}}", response_model=SpokeModel, responses=errors(404), tags=["spokes"]
    )
    async def get_spoke(name: SpokeName, _: Client) -> Response:
        return json_response(await hub.spoke(name))

    @app.post(
        f"{v1}/spokes/{{name}}/join-tokens",
        status_code=201,
        response_model=JoinToken,
        openapi_extra=openapi.body(JoinTokenRequest, required=False),
        tags=["spokes"],
    )
    async def mint_join_token(name: SpokeName, request: Request, _: Client) -> Response:
        """A join token for spoke NAME: single use, expiring; shown once."""
        ask = await read_optional(request, JoinTokenRequest)
        token = await hub.mint_join_token(name, ask.ttl_seconds)
        return json_response(token, 201)

    @app.post(
        f"{v1}/spokes/{{name}}/approve",
        response_model=SpokeModel,
        responses=errors(404),
        tags=["spokes"],
    )
    async def approve_spoke(name: SpokeName, _: Client) -> Response:
        """Let a spoke that joined with the fleet token receive work."""
        return json_response(await hub.approve(name))

    @app.post(
        f"{v1}/spokes/{{name}}/drain",
        response_model=SpokeModel,
        responses=errors(404),
        tags=["spokes"],
    )
    async def drain_spoke(name: SpokeName, _: Client) -> Response:
        """No new work goes to the spoke; what it runs finishes."""
        return json_response(await hub.drain(name))

    @app.post(
        f"{v1}/spokes/{{name}}/undrain",
        response_model=SpokeModel,
        responses=errors(404),
        tags=["spokes"],
    )
    async def undrain_spoke(name: SpokeName, _: Client) -> Response:
        """The spoke takes new work again."""
        return json_response(await hub.drain(name, draining=False))

    @app.delete(
        f"{v1}/spokes/{{name}}",
        response_model=SpokeRemoval,
        responses=errors(404, 409),
        tags=["spokes"],
    )
    async def remove_spoke(name: SpokeName, _: Client, force: bool = False) -> Response:
        """Revoke the spoke's credential; its unstarted work is placed elsewhere, its running
        work retried per policy. A spoke that may run work it was handed (live or silent):
        409 unless `force`."""
        return json_response(await hub.remove(name, force=force))


def _spoke_protocol(app: FastAPI, hub: HubService) -> None:
    v1 = API_PREFIX
    beats = PerSpoke()

    @app.post(
        f"{v1}/spokes/register",
        response_model=RegisterResponse,
        openapi_extra=openapi.body(RegisterRequest),
        responses=errors(409),
        tags=["spoke protocol"],
    )
    async def register(request: Request, _: SameStore, who: Joining) -> Response:
        """A join token (or the spoke's own credential, or the fleet token) in, the spoke's
        credential out (shown once). 409: the name is live and the proof is not its own, or
        the spoke remembers another store than this hub's (header Kindfleet-Store)."""
        req = await read_model(request, RegisterRequest)
        return json_response(await hub.register(who, req))

    @app.post(
        f"{v1}/spokes/{{name}}/heartbeat",
        response_model=HeartbeatResponse,
        openapi_extra=openapi.body(HeartbeatRequest),
        tags=["spoke protocol"],
    )
    async def heartbeat(name: SpokeName, request: Request, who: Spoke) -> Response:
        """Renews the spoke's lease; `held` fences stale copies. One at a time per spoke
        (`oneatatime.py`): more wait their turn, so a flood stalls only its own spoke."""
        async with beats.turn(name):
            req = await read_model(request, HeartbeatRequest)
            return json_response(await hub.heartbeat(name, req, who.digest))

    @app.get(
        f"{v1}/spokes/{{name}}/assignments",
        response_model=AssignmentBatch,
        tags=["spoke protocol"],
    )
    async def assignments(
        name: SpokeName,
        who: Spoke,
        wait: Annotated[float, Query(ge=0, le=fastspokes.MAX_WAIT)] = 0,
    ) -> Response:
        """Long-poll: answers at once when there is work or a cancellation, else after wait."""
        return json_response(await hub.poll(name, wait, who.digest))

    @app.post(
        f"{v1}/spokes/{{name}}/events",
        response_model=EventAck,
        openapi_extra=openapi.body(EventBatch),
        tags=["spoke protocol"],
    )
    async def events(name: SpokeName, request: Request, who: Spoke) -> Response:
        batch = await read_model(request, EventBatch)
        return json_response(await hub.ingest(name, batch, who.digest))


def _probes(app: FastAPI, hub: HubService) -> None:
    @app.get("/healthz", tags=["probes"], responses=openapi.PROBE)
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type=problems.JSON)

    @app.get("/readyz", tags=["probes"], responses=openapi.PROBE)
    async def readyz() -> Response:
        try:
            await hub.ready()
        except Exception:
            return problems.problem(503, "Service Unavailable", "the store is not reachable")
        return Response(b'{"status":"ready"}', media_type=problems.JSON)

    @app.get("/metrics", tags=["probes"], responses=openapi.METRICS, response_class=Response)
    async def metrics(_: Client) -> Response:
        return Response(hub.metrics.render(), media_type=CONTENT_TYPE)
