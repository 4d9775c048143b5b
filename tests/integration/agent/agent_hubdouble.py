"""A faithful, in-memory double of the hub's SPOKE-side endpoints (docs/platform.md), served
over real HTTP by uvicorn so the agent is exercised through its real client.

It enforces credentials (bootstrap token for register, the spoke's own credential for its
own paths, 401/403 as the contract says), leases assignments with generations, refuses stale
reports, de-duplicates by the highest seq applied per spoke, and records every request body
and every applied entry so tests can assert exactly-once delivery and data boundaries.
Failure injection: hang the events response after applying (a lost ack), hold a batch until
the test says go (to kill the agent mid-flush), stop and restart the server on the same port.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from kindfleet.platform.wire import (
    Assignment,
    AssignmentBatch,
    EventAck,
    EventBatch,
    EventType,
    HeartbeatRequest,
    HeartbeatResponse,
    HeldAssignment,
    RegisterRequest,
    RegisterResponse,
    SpokeHealth,
    StatusEvent,
    TelemetryPoint,
    WorkloadSpec,
)

TERMINAL = {"Succeeded", "Failed", "Cancelled"}
_STATE_OF = {
    EventType.SUCCEEDED: "Succeeded",
    EventType.FAILED: "Failed",
    EventType.CANCELLED: "Cancelled",
}


@dataclass
class Captured:
    method: str
    path: str
    authorization: str
    body: bytes


@dataclass
class SpokeRec:
    name: str
    credential_hash: str
    capacity: dict[str, Any]
    labels: dict[str, str]
    high_seq: int = 0
    heartbeats: int = 0
    registrations: int = 1


@dataclass
class WorkloadRec:
    id: str
    spec: WorkloadSpec
    generation: int = 0
    spoke: str | None = None
    state: str = "Pending"
    accepted: bool = False
    cancel_requested: bool = False
    cancel_delivered: bool = False
    exit_code: int | None = None
    reason: str | None = None
    deliveries: int = 0


@dataclass
class Applied:
    spoke: str
    seq: int
    kind: str  # event | telemetry
    item: StatusEvent | TelemetryPoint


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class HubDouble:
    bootstrap_token: str = field(default_factory=lambda: "boot-" + secrets.token_urlsafe(16))
    heartbeat_seconds: float = 0.3
    lease_seconds: float = 1.0
    lost_after_seconds: float = 30.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    spokes: dict[str, SpokeRec] = field(default_factory=dict)
    credentials: dict[str, str] = field(default_factory=dict)  # name -> plaintext (tests only)
    workloads: dict[str, WorkloadRec] = field(default_factory=dict)
    applied: list[Applied] = field(default_factory=list)
    refused: list[tuple[str, int]] = field(default_factory=list)
    duplicates: int = 0
    requests: list[Captured] = field(default_factory=list)
    # failure injection
    hang_event_responses: int = 0  # apply, then do not answer for `hang_seconds`
    hang_seconds: float = 3.0
    hold_events: threading.Event | None = None  # apply, then wait for this before answering
    batch_applied: threading.Event = field(default_factory=threading.Event)
    closing: bool = False  # the server is stopping: release long-polls at once
    _ids: int = 0

    # ------------------------------------------------------------------ test API

    def submit(self, spec: WorkloadSpec) -> str:
        with self.lock:
            self._ids += 1
            wid = f"w{self._ids:04d}"
            self.workloads[wid] = WorkloadRec(wid, spec)
            return wid

    def assign(self, wid: str, spoke: str) -> int:
        """Lease the workload to `spoke` (a new attempt: generation + 1)."""
        with self.lock:
            w = self.workloads[wid]
            w.generation += 1
            w.spoke, w.state, w.accepted = spoke, "Assigned", False
            w.cancel_requested = w.cancel_delivered = False
            return w.generation

    def run(self, spec: WorkloadSpec, spoke: str) -> str:
        wid = self.submit(spec)
        self.assign(wid, spoke)
        return wid

    def cancel(self, wid: str) -> None:
        with self.lock:
            self.workloads[wid].cancel_requested = True

    def revoke(self, spoke: str) -> None:
        with self.lock:
            self.spokes[spoke].credential_hash = "revoked"

    def workload(self, wid: str) -> WorkloadRec:
        with self.lock:
            return self.workloads[wid]

    def status_events(self, wid: str | None = None, spoke: str | None = None) -> list[StatusEvent]:
        with self.lock:
            return [
                a.item
                for a in self.applied
                if isinstance(a.item, StatusEvent)
                and (wid is None or a.item.workload == wid)
                and (spoke is None or a.spoke == spoke)
            ]

    def telemetry(self, wid: str | None = None) -> list[TelemetryPoint]:
        with self.lock:
            return [
                a.item
                for a in self.applied
                if isinstance(a.item, TelemetryPoint) and a.item.workload == wid
            ]

    def delivered_seqs(self, spoke: str) -> list[int]:
        """Every seq the hub took from `spoke` (applied or refused), in arrival order."""
        with self.lock:
            seqs = [(a.seq, i) for i, a in enumerate(self.applied) if a.spoke == spoke]
            seqs += [(seq, -1) for s, seq in self.refused if s == spoke]
            return sorted(seq for seq, _ in seqs)

    def bodies(self) -> list[bytes]:
        with self.lock:
            return [c.body for c in self.requests]

    # ------------------------------------------------------------------ auth

    def _spoke_auth(self, request: Request, name: str) -> JSONResponse | SpokeRec:
        token = _bearer(request)
        if token is None:
            return _problem(401, "missing bearer token")
        spoke = self.spokes.get(name)
        if spoke is not None and secrets.compare_digest(_hash(token), spoke.credential_hash):
            return spoke
        if any(
            secrets.compare_digest(_hash(token), s.credential_hash) for s in self.spokes.values()
        ):
            return _problem(403, "credential of another spoke")
        if secrets.compare_digest(token, self.bootstrap_token):
            return _problem(403, "bootstrap token may only register")
        return _problem(401, "unknown token")

    # ------------------------------------------------------------------ handlers

    async def register(self, request: Request) -> Any:
        raw = await self._capture(request)
        token = _bearer(request)
        if token is None:
            return _problem(401, "missing bearer token")
        if not secrets.compare_digest(token, self.bootstrap_token):
            return _problem(403, "not a bootstrap token")
        body = _parse(RegisterRequest, raw)
        if isinstance(body, JSONResponse):
            return body
        credential = "cred-" + secrets.token_urlsafe(24)
        with self.lock:
            old = self.spokes.get(body.name)
            rec = SpokeRec(
                body.name, _hash(credential), body.capacity.model_dump(), dict(body.labels)
            )
            if old is not None:
                rec.high_seq, rec.registrations = old.high_seq, old.registrations + 1
            self.spokes[body.name] = rec
            self.credentials[body.name] = credential
        return RegisterResponse(
            spoke=body.name,
            credential=credential,
            heartbeat_seconds=self.heartbeat_seconds,
            lease_seconds=self.lease_seconds,
            lost_after_seconds=self.lost_after_seconds,
        ).model_dump(mode="json")

    async def heartbeat(self, name: str, request: Request) -> Any:
        raw = await self._capture(request)
        spoke = self._spoke_auth(request, name)
        if isinstance(spoke, JSONResponse):
            return spoke
        body = _parse(HeartbeatRequest, raw)
        if isinstance(body, JSONResponse):
            return body
        with self.lock:
            spoke.heartbeats += 1
            spoke.capacity = body.capacity.model_dump()  # what it offers now
            stop = [h for h in body.held if self._stale(h, name)]
        return HeartbeatResponse(
            health=SpokeHealth.READY, stop=stop, heartbeat_seconds=self.heartbeat_seconds
        ).model_dump(mode="json")

    def _stale(self, held: HeldAssignment, spoke: str) -> bool:
        """Not the workload's live assignment to this spoke (cancels go by long-poll)."""
        w = self.workloads.get(held.workload)
        if w is None or w.generation != held.generation or w.spoke != spoke:
            return True
        return w.state in TERMINAL

    async def assignments(self, name: str, request: Request, wait: float = 0.0) -> Any:
        await self._capture(request)
        spoke = self._spoke_auth(request, name)
        if isinstance(spoke, JSONResponse):
            return spoke
        deadline = time.monotonic() + min(wait, 30.0)
        while True:
            with self.lock:
                items = self._due(name)
            if items or time.monotonic() >= deadline or self.closing:
                return AssignmentBatch(items=items).model_dump(mode="json")
            await asyncio.sleep(0.05)

    def _due(self, spoke: str) -> list[Assignment]:
        items = []
        for w in self.workloads.values():
            if w.spoke != spoke:
                continue
            if w.state == "Assigned" and not w.accepted and not w.cancel_requested:
                w.deliveries += 1
                items.append(Assignment(workload=w.id, generation=w.generation, spec=w.spec))
            elif w.cancel_requested and not w.cancel_delivered and w.state not in TERMINAL:
                w.cancel_delivered = True
                items.append(
                    Assignment(workload=w.id, generation=w.generation, spec=w.spec, cancel=True)
                )
        return items

    async def post_events(self, name: str, request: Request) -> Any:
        raw = await self._capture(request)
        spoke = self._spoke_auth(request, name)
        if isinstance(spoke, JSONResponse):
            return spoke
        body = _parse(EventBatch, raw)
        if isinstance(body, JSONResponse):
            return body
        with self.lock:
            ack = self._apply(spoke, body)
        self.batch_applied.set()
        if self.hold_events is not None:
            await asyncio.to_thread(self.hold_events.wait, 30)
        if self.hang_event_responses > 0:
            self.hang_event_responses -= 1
            await asyncio.sleep(self.hang_seconds)
        return ack.model_dump(mode="json")

    def _apply(self, spoke: SpokeRec, batch: EventBatch) -> EventAck:
        entries: list[tuple[int, str, StatusEvent | TelemetryPoint]] = [
            (e.seq, "event", e) for e in batch.events
        ] + [(t.seq, "telemetry", t) for t in batch.telemetry]
        refused: list[int] = []
        dups = 0
        for seq, kind, item in sorted(entries, key=lambda e: e[0]):
            if seq <= spoke.high_seq:
                dups += 1
                continue
            spoke.high_seq = seq
            if isinstance(item, StatusEvent) and not self._apply_event(spoke.name, item):
                refused.append(seq)
                self.refused.append((spoke.name, seq))
                continue
            self.applied.append(Applied(spoke.name, seq, kind, item))
        self.duplicates += dups
        return EventAck(acked_through=spoke.high_seq, refused=refused, duplicates=dups)

    def _apply_event(self, spoke: str, e: StatusEvent) -> bool:
        w = self.workloads.get(e.workload)
        if w is None or w.generation != e.generation or w.spoke != spoke or w.state in TERMINAL:
            return False
        if e.type is EventType.ACCEPTED:
            w.accepted = True
        elif e.type is EventType.STARTED:
            w.accepted, w.state = True, "Running"
        elif e.type is EventType.REJECTED:
            w.state, w.spoke = "Pending", None
        else:
            w.state, w.exit_code, w.reason = _STATE_OF[e.type], e.exit_code, e.reason
        return True

    async def _capture(self, request: Request) -> bytes:
        raw = await request.body()
        with self.lock:
            self.requests.append(
                Captured(
                    request.method,
                    request.url.path,
                    request.headers.get("authorization", ""),
                    raw,
                )
            )
        return raw

    def app(self) -> FastAPI:
        app = FastAPI()
        app.post("/v1/spokes/register")(self.register)
        app.post("/v1/spokes/{name}/heartbeat")(self.heartbeat)
        app.get("/v1/spokes/{name}/assignments")(self.assignments)
        app.post("/v1/spokes/{name}/events")(self.post_events)
        return app


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def _problem(status: int, title: str) -> JSONResponse:
    return JSONResponse({"title": title, "status": status}, status_code=status)


def _parse(model: Any, raw: bytes) -> Any:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = [{"path": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]
        return JSONResponse(
            {"title": "invalid body", "status": 422, "errors": errors}, status_code=422
        )


class HubServer:
    """uvicorn in a thread on a fixed port; stop() and start() again = hub down and back."""

    def __init__(self, double: HubDouble, port: int = 0) -> None:
        self.double = double
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.double.closing = False
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.double.app(),
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("hub double did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self.double.closing = True
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._server = self._thread = None
