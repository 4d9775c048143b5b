"""The hub as a Python object: every API operation, one store job each, effects after commit.

This is where the pure rules, the store and the running process meet. Each operation
builds a job for the group-commit writer, awaits its commit, and only then acts on
the outside world: wakes long-polling spokes, kicks the scheduler, logs, counts. So
nothing is announced that is not durable, and a kill -9 at any point loses nothing
that was answered with a 2xx.

Time comes from an injected clock, so tests drive leases and deadlines without sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from sqlalchemy import Connection

from kindfleet.platform.hub.rules import transitions
from kindfleet.platform.hub.rules.transitions import TransitionError, WorkloadRecord
from kindfleet.platform.hub.rules.views import to_wire
from kindfleet.platform.hub.service import protocol, reads
from kindfleet.platform.hub.service.announce import announce
from kindfleet.platform.hub.service.longpoll import Notifier
from kindfleet.platform.hub.service.metrics import HubMetrics
from kindfleet.platform.hub.service.passes import PassConfig, PassReport, run_pass
from kindfleet.platform.hub.service.refusals import Conflict, Invalid
from kindfleet.platform.hub.service.rows import changes, record
from kindfleet.platform.hub.service.submit import Submitted, prepare, submit_many
from kindfleet.platform.hub.service.tokens import Principal, Tokens, new_credential, token_hash
from kindfleet.platform.hub.settings import HubSettings
from kindfleet.platform.store import Database
from kindfleet.platform.store import spokes as spoke_store
from kindfleet.platform.store import workloads as store
from kindfleet.platform.wire import (
    AssignmentBatch,
    BatchItem,
    EventAck,
    EventBatch,
    Explanation,
    HeartbeatRequest,
    HeartbeatResponse,
    RegisterRequest,
    RegisterResponse,
    SpokeHealth,
    SpokeList,
    SubmitResponse,
    TelemetrySeries,
    Workload,
    WorkloadList,
    WorkloadSpec,
    WorkloadState,
)

log = logging.getLogger("kindfleet.hub")

MAX_WAIT = 30.0
COUNT_EVERY = 10.0  # seconds between refreshes of the per-state gauges
PRUNE_EVERY = 60.0
INT64 = 2**63 - 1

Clock = Callable[[], float]


class HubService:
    def __init__(
        self,
        settings: HubSettings,
        *,
        clock: Clock = time.time,
        metrics: HubMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = metrics or HubMetrics()
        self.db = Database(
            settings.store,
            on_group=self.metrics.observe_group,
            lock_wait_seconds=settings.store_lock_wait_seconds,
        )
        self.tokens = Tokens(settings.client_token, settings.bootstrap_token)
        self.notifier = Notifier()
        self.started_at = 0.0
        self.on_change: Callable[[], None] = lambda: None  # the scheduler's kick
        self._last_count = -COUNT_EVERY
        self._last_prune = 0.0
        self._guarded = False

    # ------------------------------------------------------------ life

    async def start(self) -> None:
        await self.db.open()
        self.started_at = self.clock()
        self._last_prune = self.started_at
        for name, digest in await self.db.writer.run(spoke_store.credentials):
            self.tokens.set_spoke(name, digest)
        log.info(
            "hub started: store %s, lease %gs, lost after %gs, policy %s",
            self.db.display_url,
            self.settings.lease_seconds,
            self.settings.lost_after_seconds,
            self.settings.policy.value,
        )

    def release_waiters(self) -> None:
        """Let every long-poll return now (first step of a graceful shutdown)."""
        self.notifier.close()

    async def close(self) -> None:
        self.release_waiters()
        await asyncio.to_thread(self.db.close)
        log.info("hub stopped")

    async def ready(self) -> None:
        await asyncio.wait_for(self.db.ping(), timeout=5)

    def identify(self, authorization: str | None) -> Principal:
        return self.tokens.identify(authorization)

    # ------------------------------------------------------------ workloads

    async def submit(self, key: str | None, spec: WorkloadSpec) -> SubmitResponse:
        item = prepare(key, spec, self.clock())
        result: Submitted = await self.db.writer.run_batched(submit_many, item)
        return self._submitted([result])[0]

    async def submit_batch(self, items: Sequence[BatchItem]) -> list[SubmitResponse]:
        now = self.clock()
        prepared = [
            prepare(it.idempotency_key, it.spec, now, path=f"items[{i}].")
            for i, it in enumerate(items)
        ]

        def job(conn: Connection) -> list[Submitted]:
            return [r for r in submit_many(conn, prepared, atomic=True) if isinstance(r, Submitted)]

        return self._submitted(await self.db.writer.run(job))

    def _submitted(self, results: Sequence[Submitted]) -> list[SubmitResponse]:
        created = sum(1 for r in results if r.created)
        if created:
            self.metrics.submissions.labels("created").inc(created)
            self.on_change()
        if len(results) - created:
            self.metrics.submissions.labels("existing").inc(len(results) - created)
        return [SubmitResponse(workload=to_wire(r.record), created=r.created) for r in results]

    async def get(self, workload_id: str) -> Workload:
        return await self.db.writer.run(lambda conn: reads.get(conn, workload_id))

    async def list_workloads(self, q: reads.ListQuery) -> WorkloadList:
        return await self.db.writer.run(lambda conn: reads.page(conn, q))

    async def explain(self, workload_id: str) -> Explanation:
        now = self.clock()
        return await self.db.writer.run(lambda conn: reads.explain(conn, workload_id, now))

    async def cancel(self, workload_id: str) -> Workload:
        now = self.clock()

        def job(conn: Connection) -> WorkloadRecord:
            rec = record(reads.row_of(conn, workload_id))
            try:
                after = transitions.cancel(rec, now)
            except TransitionError as exc:
                raise Conflict(str(exc)) from None
            if after is not rec:
                store.save(conn, [changes(after)])
            return after

        rec = await self.db.writer.run(job)
        if rec.state is WorkloadState.CANCELLED:
            log.info("workload %s cancelled while pending", rec.id)
            self.on_change()
        elif rec.spoke is not None:
            log.info("workload %s: cancellation sent to spoke %s", rec.id, rec.spoke)
            self.notifier.wake(rec.spoke)
        return to_wire(rec)

    async def spokes(self) -> SpokeList:
        return await self.db.writer.run(reads.spokes)

    async def telemetry(self, q: reads.TelemetryQuery) -> list[TelemetrySeries]:
        reads.check_telemetry_query(q)
        return await self.db.writer.run(lambda conn: reads.telemetry(conn, q))

    # ------------------------------------------------------------ spokes

    async def register(self, req: RegisterRequest) -> RegisterResponse:
        _check_capacity(req.capacity.cpu_millis, req.capacity.memory_bytes, "capacity")
        credential = new_credential()
        digest = token_hash(credential)
        now = self.clock()
        known = await self.db.writer.run(lambda conn: protocol.register(conn, req, digest, now))
        self.tokens.set_spoke(req.name, digest)
        log.info(
            "spoke %s %s (executor %s, %s cpu millis, %s bytes, %s GPUs, labels %s)",
            req.name,
            "re-registered, previous credential revoked" if known else "registered",
            req.executor,
            req.capacity.cpu_millis,
            req.capacity.memory_bytes,
            req.capacity.gpus,
            ",".join(f"{k}={v}" for k, v in sorted(req.labels.items())) or "none",
        )
        self.on_change()
        return RegisterResponse(
            spoke=req.name,
            credential=credential,
            heartbeat_seconds=self.settings.heartbeat_seconds,
            lease_seconds=self.settings.lease_seconds,
            lost_after_seconds=self.settings.lost_after_seconds,
        )

    async def heartbeat(self, name: str, req: HeartbeatRequest) -> HeartbeatResponse:
        cap = req.capacity
        _check_capacity(cap.cpu_millis, cap.memory_bytes, "capacity")
        now = self.clock()
        beat = await self.db.writer.run(
            lambda conn: protocol.heartbeat(
                conn, name, (cap.cpu_millis, cap.memory_bytes, cap.gpus), req.held, now
            )
        )
        if beat.previous is not SpokeHealth.READY:
            log.info("spoke %s is Ready again (was %s)", name, beat.previous.value)
        if beat.stop:
            log.info("spoke %s told to stop %d stale copies", name, len(beat.stop))
        if beat.previous is not SpokeHealth.READY or beat.capacity_changed:
            self.on_change()
        return HeartbeatResponse(
            health=SpokeHealth.READY,
            stop=beat.stop,
            heartbeat_seconds=self.settings.heartbeat_seconds,
        )

    async def poll(self, name: str, wait: float) -> AssignmentBatch:
        """Due assignments now, or wait (at most 30 s) for some to appear."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(max(wait, 0.0), MAX_WAIT)
        redeliver = self.settings.redeliver_seconds
        while True:
            seen = self.notifier.version(name)
            now = self.clock()
            due = await self._take_due(name, now, redeliver)
            remaining = deadline - loop.time()
            if due.items or remaining <= 0 or self.notifier.closed:
                return AssignmentBatch(items=due.items)
            if due.next_due is not None:
                remaining = min(remaining, max(due.next_due - now, 0.01))
            await self.notifier.wait(name, seen, remaining)

    async def _take_due(self, name: str, now: float, redeliver: float) -> protocol.Due:
        return await self.db.writer.run(lambda conn: protocol.take_due(conn, name, now, redeliver))

    async def ingest(self, name: str, batch: EventBatch) -> EventAck:
        _check_batch(batch)
        now = self.clock()
        done = await self.db.writer.run(lambda conn: protocol.ingest(conn, name, batch, now))
        ack = done.ack
        applied = len(batch.events) + len(batch.telemetry) - ack.duplicates - len(ack.refused)
        self.metrics.events.labels("applied").inc(applied)
        self.metrics.events.labels("duplicate").inc(ack.duplicates)
        self.metrics.events.labels("refused").inc(len(ack.refused))
        for workload, note in done.notes:
            if note in ("retried", "failed", "rejected", "succeeded", "cancelled"):
                log.info("workload %s %s on spoke %s", workload, note, name)
        if ack.refused:
            log.info("spoke %s: %d stale reports refused", name, len(ack.refused))
        if done.freed:
            self.on_change()
        return ack

    # ------------------------------------------------------------ background

    async def tick(self, *, place: bool = True) -> PassReport:
        """One scheduler pass; the scheduler calls it, tests call it with a fake clock."""
        now = self.clock()
        count = now - self._last_count >= COUNT_EVERY
        prune = now - self._last_prune >= PRUNE_EVERY
        cfg = PassConfig(
            rules=self.settings.lease_rules,
            policy=self.settings.policy,
            hub_started_at=self.started_at,
            place=place,
            count=count,
            prune_before=now - self.settings.telemetry_retention_seconds if prune else None,
        )
        report = await self.db.writer.run(lambda conn: run_pass(conn, now, cfg))
        if count:
            self._last_count = now
        if prune:
            self._last_prune = now
        self._guarded = announce(report, self.metrics, self.notifier, was_guarded=self._guarded)
        return report


def _check_capacity(cpu: int, memory: int, path: str) -> None:
    if cpu > INT64:
        raise Invalid.at(f"{path}.cpu_millis", "is out of range")
    if memory > INT64:
        raise Invalid.at(f"{path}.memory_bytes", "is out of range")


def _check_batch(batch: EventBatch) -> None:
    """Numbers that reach a 64-bit column must fit in one (the wire allows any int)."""
    for i, event in enumerate(batch.events):
        if event.seq > INT64:
            raise Invalid.at(f"events[{i}].seq", "is out of range")
    for i, point in enumerate(batch.telemetry):
        if point.seq > INT64:
            raise Invalid.at(f"telemetry[{i}].seq", "is out of range")
        if point.generation is not None and abs(point.generation) > INT64:
            raise Invalid.at(f"telemetry[{i}].generation", "is out of range")
