"""The hub as a Python object: every API operation, one store job each, effects after commit.

This is where the pure rules, the store and the running process meet. Each write builds a
job for the group-commit writer, awaits its commit, and only then acts on the outside
world: wakes long-polling spokes, kicks the scheduler, logs, counts. So nothing is
announced that is not durable, and a kill -9 at any point loses nothing that was answered
with a 2xx. Reads go to the store's readers and never wait for the writer; a spoke's own
calls (register, heartbeat, assignments, events) are urgent for the writer, so no queue of
client writes delays a lease renewal.

Time comes from an injected clock, so tests drive leases and deadlines without sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from functools import partial

from sqlalchemy import Connection

from kindfleet.platform.hub.rules import transitions
from kindfleet.platform.hub.rules.leases import Guard
from kindfleet.platform.hub.rules.queue import PendingQueue
from kindfleet.platform.hub.rules.times import utc
from kindfleet.platform.hub.rules.transitions import TransitionError, WorkloadRecord
from kindfleet.platform.hub.rules.views import to_wire
from kindfleet.platform.hub.service import operators, protocol, reads, wirejson
from kindfleet.platform.hub.service.announce import announce
from kindfleet.platform.hub.service.bodies import Bodies
from kindfleet.platform.hub.service.hearing import Ears
from kindfleet.platform.hub.service.longpoll import Notifier
from kindfleet.platform.hub.service.metrics import HubMetrics
from kindfleet.platform.hub.service.passes import PassConfig, PassReport, run_pass
from kindfleet.platform.hub.service.refusals import Conflict, Invalid
from kindfleet.platform.hub.service.rows import persist, queued_row, record, shown_columns
from kindfleet.platform.hub.service.safelog import Spell, shown
from kindfleet.platform.hub.service.submit import Submitted, ids_after, prepare, submit_many
from kindfleet.platform.hub.service.tokens import (
    Principal,
    Tokens,
    new_credential,
    new_join_token,
    token_hash,
)
from kindfleet.platform.hub.service.wirejson import WorkloadJson
from kindfleet.platform.hub.settings import HubSettings
from kindfleet.platform.store import Database, StoreUnavailable, after_commit
from kindfleet.platform.store import spokes as spoke_store
from kindfleet.platform.store import workloads as store
from kindfleet.platform.wire import (
    STORE_HEADER,
    AssignmentBatch,
    BatchItem,
    EventAck,
    EventBatch,
    Explanation,
    HeartbeatRequest,
    HeartbeatResponse,
    JoinToken,
    RegisterRequest,
    RegisterResponse,
    Spoke,
    SpokeHealth,
    SpokeList,
    SpokeRemoval,
    SubmitResponse,
    TelemetrySeries,
    Workload,
    WorkloadList,
    WorkloadSpec,
    WorkloadState,
)
from kindfleet.platform.wire import Guard as WireGuard

log = logging.getLogger("kindfleet.hub")

MAX_WAIT = 30.0
# A long poll answers a spoke at most this often (its first poll after a quiet spell at
# once): under load, a spoke that polls again the instant it was answered took one or two
# workloads a request, each request costing both sides more than the work it carried.
POLL_SPACING = 0.1
COUNT_EVERY = 10.0  # seconds between refreshes of the per-state gauges
PRUNE_EVERY = 60.0
FULL_PASS_EVERY = 30.0  # every shape is looked at again at least this often
INT64 = 2**63 - 1

Clock = Callable[[], float]


class HubService:
    def __init__(
        self,
        settings: HubSettings,
        *,
        clock: Clock = time.time,
        monotonic: Clock | None = None,
        metrics: HubMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._other_store = Spell(time.monotonic)
        # A fake wall clock in a test is the monotonic clock too.
        mono = monotonic or (time.monotonic if clock is time.time else clock)
        self.ears = Ears(mono, keep_audible=settings.keep_audible_seconds)
        self.metrics = metrics or HubMetrics()
        self.db = Database(
            settings.store,
            on_group=self.metrics.observe_group,
            on_health=self.ears.store,
            lock_wait_seconds=settings.store_lock_wait_seconds,
            read_threads=settings.read_threads,
        )
        self.tokens = Tokens(settings.client_token, settings.fleet_token)
        self.notifier = Notifier()
        self._answered: dict[str, float] = {}  # a spoke's last poll answered (loop time)
        self.metrics.long_polls.set_function(self.notifier.waiting)
        self.queue = PendingQueue()  # touched on the store's writer thread only
        self.db.writer.resync = self._load
        self.json = WorkloadJson()  # rendered workloads, shared by the reader threads
        self.bodies = Bodies(lambda: self.db.writer.transactions)  # read bodies, on the loop
        self._submit_many = partial(submit_many, queue=self.queue)
        self.started_at = 0.0
        self.on_change: Callable[[], None] = lambda: None  # the scheduler's kick
        self.guard = Guard()
        self.holding: frozenset[str] = frozenset()  # Lost spokes holding exclusive work
        self._last_count = -COUNT_EVERY
        self._last_prune = 0.0
        self._last_full = 0.0

    # ------------------------------------------------------------ life

    async def start(self) -> None:
        await self.db.open()
        self.started_at = self.clock()
        self._last_prune = self._last_full = self.started_at
        await self.db.writer.run(self._load)
        ids_after(await self.db.writer.run(store.greatest_id))
        # Exclusive work a Lost spoke held when the last hub stopped waits its lease
        # again, counted from this hub's serving: look at every Lost spoke once.
        self.holding = frozenset(
            row.name
            for row in await self.db.writer.run(spoke_store.all_spokes)
            if row.health == SpokeHealth.LOST.value
        )
        log.info(
            "hub started: store %s, lease %gs, lost after %gs, policy %s, %d queued, fleet "
            "token %s",
            self.db.display_url,
            self.settings.lease_seconds,
            self.settings.lost_after_seconds,
            self.settings.policy.value,
            len(self.queue),
            "on (development only: new spokes need approval)"
            if self.settings.fleet_token
            else "off",
        )

    def _load(self, conn: Connection) -> None:
        """The pending queue and the spokes' credentials as the store has them: at the
        start, and again after a commit whose outcome is unknown (writer.py `resync`): a
        submission committed while the hub saw its commit fail was stored and never queued
        (its retry found it stored and queued nothing), Pending until the hub restarted."""
        self.queue.clear()
        for row in store.queued(conn):
            self.queue.add(queued_row(row))
        self.tokens.set_spokes(spoke_store.credentials(conn))
        self.tokens.set_retired(spoke_store.retired(conn))

    def serving(self) -> None:
        """The HTTP server listens and answers: from now on a spoke's silence counts."""
        self.ears.serving()
        log.info("hub serving: spokes' silence counts from now")

    def release_waiters(self) -> None:
        """Let every long-poll return now (first step of a graceful shutdown)."""
        self.notifier.close()

    async def close(self) -> None:
        self.release_waiters()
        await asyncio.to_thread(self.db.close)
        log.info("hub stopped")

    async def ready(self) -> None:
        """Ready means able to commit: a store that answers reads but refuses commits
        (a full disk, an immutable WAL) is not ready (issue 14)."""
        down = self.ears.store_down_since
        if down is not None:
            raise StoreUnavailable(
                f"the store has refused every commit for {self.ears.now() - down:.1f}s"
            )
        await asyncio.wait_for(self.db.ping(), timeout=5)

    def identify(self, authorization: str | None) -> Principal:
        return self.tokens.identify(authorization)

    # ------------------------------------------------------------ workloads

    async def submit(self, key: str | None, spec: WorkloadSpec) -> SubmitResponse:
        return self._responses([await self._submit_one(key, spec)])[0]

    async def submit_json(self, key: str | None, spec: WorkloadSpec) -> tuple[bool, bytes]:
        """As `submit`, the answer as its JSON bytes, written from the record without
        building the wire models (the fast path's: `SubmitResponse` costs more than the
        insert)."""
        result = await self._submit_one(key, spec)
        rec = result.record  # a replay answers the stored workload, spec as stored
        body = wirejson.render(shown_columns(rec), rec.spec.model_dump_json())
        return result.created, b'{"workload":%s,"created":%s}' % (
            body,
            b"true" if result.created else b"false",
        )

    async def _submit_one(self, key: str | None, spec: WorkloadSpec) -> Submitted:
        item = prepare(key, spec, self.clock())
        result: Submitted = await self.db.writer.run_batched(self._submit_many, item)
        self._count([result])
        return result

    async def submit_batch(self, items: Sequence[BatchItem]) -> list[SubmitResponse]:
        now = self.clock()
        prepared = [
            prepare(it.idempotency_key, it.spec, now, path=f"items[{i}].")
            for i, it in enumerate(items)
        ]

        def job(conn: Connection) -> list[Submitted]:
            done = submit_many(conn, prepared, queue=self.queue, atomic=True)
            return [r for r in done if isinstance(r, Submitted)]

        results = await self.db.writer.run(job)
        self._count(results)
        return self._responses(results)

    def _count(self, results: Sequence[Submitted]) -> None:
        created = sum(1 for r in results if r.created)
        if created:
            self.metrics.created.inc(created)
            self.on_change()
        if len(results) - created:
            self.metrics.existing.inc(len(results) - created)

    @staticmethod
    def _responses(results: Sequence[Submitted]) -> list[SubmitResponse]:
        return [SubmitResponse(workload=to_wire(r.record), created=r.created) for r in results]

    async def get(self, workload_id: str) -> Workload:
        return await self.db.read(lambda conn: reads.get(conn, workload_id))

    async def get_json(self, workload_id: str) -> bytes:
        """The workload as its JSON body, serialised on the reader's thread."""
        return await self.bodies.get(
            ("get", workload_id),
            lambda: self.db.read(lambda conn: reads.get_json(conn, workload_id, self.json)),
        )

    async def list_workloads(self, q: reads.ListQuery) -> WorkloadList:
        return await self.db.read(lambda conn: reads.page(conn, q))

    async def list_json(self, q: reads.ListQuery) -> bytes:
        """A page as its JSON body, rendered from columns on the reader's thread."""
        key = ("list", q.limit, q.before, q.state, q.spoke, tuple(sorted((q.labels or {}).items())))
        return await self.bodies.get(
            key, lambda: self.db.read(lambda conn: reads.page_json(conn, q, self.json))
        )

    async def explain(self, workload_id: str) -> Explanation:
        now = self.clock()
        return await self.db.read(lambda conn: reads.explain(conn, workload_id, now))

    async def cancel(self, workload_id: str) -> Workload:
        now = self.clock()

        def job(conn: Connection) -> WorkloadRecord:
            rec = record(reads.row_of(conn, workload_id))
            try:
                after = transitions.cancel(rec, now)
            except TransitionError as exc:
                raise Conflict(str(exc)) from None
            if after is not rec:
                persist(conn, self.queue, [after])
            return after

        rec = await self.db.writer.run(job)
        if rec.state is WorkloadState.CANCELLED:
            log.info("workload %s cancelled while pending", rec.id)
        elif rec.spoke is not None:
            log.info("workload %s: cancellation sent to spoke %s", rec.id, rec.spoke)
            self.notifier.wake(rec.spoke)
        return to_wire(rec)

    async def spokes(self) -> SpokeList:
        listed = await self.db.read(reads.spokes)
        return listed.model_copy(update={"guard": self.guard_view()})

    async def spoke(self, name: str) -> Spoke:
        return await self.db.read(lambda conn: reads.spoke(conn, name))

    def guard_view(self) -> WireGuard:
        g = self.guard
        return WireGuard(
            active=g.active,
            reason=g.reason,
            silent=list(g.silent),
            population=g.population,
            held=list(g.held),
            until=utc(g.until) if g.until is not None else None,
        )

    async def telemetry(self, q: reads.TelemetryQuery) -> list[TelemetrySeries]:
        reads.check_telemetry_query(q)
        return await self.db.read(lambda conn: reads.telemetry(conn, q))

    # ------------------------------------------------------------ operators

    async def mint_join_token(self, name: str, ttl_seconds: float | None) -> JoinToken:
        ttl = ttl_seconds or self.settings.join_token_ttl_seconds
        now = self.clock()
        ident, token = new_join_token()
        expires = now + ttl
        await self.db.writer.run(
            lambda conn: operators.mint(
                conn, ident, token_hash(token), spoke=name, now=now, expires=expires
            )
        )
        log.info("join token %s minted for spoke %s (expires in %gs)", ident, name, ttl)
        return JoinToken(spoke=name, token=token, expires_at=utc(expires))

    async def approve(self, name: str) -> Spoke:
        await self.db.writer.run(lambda conn: operators.approve(conn, name, self.queue))
        log.info("spoke %s approved: it may receive work", name)
        self.on_change()
        return await self.spoke(name)

    async def drain(self, name: str, *, draining: bool = True) -> Spoke:
        await self.db.writer.run(lambda conn: operators.drain(conn, name, draining, self.queue))
        if draining:
            log.info("spoke %s draining: no new work, running work finishes", name)
        else:
            log.info("spoke %s takes work again", name)
            self.on_change()
        return await self.spoke(name)

    async def remove(self, name: str, *, force: bool = False) -> SpokeRemoval:
        now = self.clock()
        lease = self.settings.lease_seconds

        def job(conn: Connection) -> SpokeRemoval:
            row = spoke_store.get(conn, name)
            removal = operators.remove(conn, name, now, lease, self.queue, force=force)
            if row is not None:
                digest = str(row.credential_hash)
                after_commit(conn, lambda: self.tokens.retire(digest, name, "removed"))
            return removal

        removal = await self.db.writer.run(job)
        self.tokens.drop_spoke(name)
        self._answered.pop(name, None)
        log.warning(
            "spoke %s removed (credential revoked): %d unstarted re-queued, %d retried, "
            "%d failed, %d cancelled",
            name,
            len(removal.requeued),
            len(removal.retried),
            len(removal.failed),
            len(removal.cancelled),
        )
        self.notifier.wake(name)
        self.on_change()
        return removal

    # ------------------------------------------------------------ spokes

    async def register(self, who: Principal, req: RegisterRequest) -> RegisterResponse:
        _check_capacity(req.capacity.cpu_millis, req.capacity.memory_bytes, "capacity")
        credential = req.credential or new_credential()
        digest = token_hash(credential)
        if not self.tokens.reserve(digest, req.name):
            raise Invalid.at("credential", "choose another credential")
        try:
            return await self._register(who, req, credential, digest)
        finally:
            self.tokens.unreserve(digest, req.name)

    async def _register(
        self, who: Principal, req: RegisterRequest, credential: str, digest: str
    ) -> RegisterResponse:
        now, heard = self.clock(), self.ears.now()
        lease = self.settings.lease_seconds

        def job(conn: Connection) -> protocol.Joined:
            joined = protocol.register(
                conn, req, who, digest, now=now, lease_seconds=lease, queue=self.queue
            )
            after_commit(conn, lambda: self.ears.heard_from(req.name, heard))
            return joined

        joined = await self.db.writer.run(job, urgent=True)
        self.tokens.set_spoke(req.name, digest)
        if joined.retired is not None:
            self.tokens.retire(joined.retired, req.name, "replaced")
        how = {"join": "with a join token", "fleet": "with the fleet token", "spoke": "rotation"}
        log.info(
            "spoke %s %s (%s%s; executor %s, %s cpu millis, %s bytes, %s GPUs, labels %s)",
            req.name,
            "credential rotated"
            if joined.rotation
            else "re-registered, previous credential revoked"
            if joined.known
            else "registered",
            how.get(who.kind, who.kind),
            "" if joined.approved else ", awaiting approval: kindfleet spokes approve",
            req.executor,
            req.capacity.cpu_millis,
            req.capacity.memory_bytes,
            req.capacity.gpus,
            shown(",".join(f"{k}={v}" for k, v in sorted(req.labels.items())) or "none"),
        )
        self.on_change()
        return RegisterResponse(
            spoke=req.name,
            credential=credential,
            heartbeat_seconds=self.settings.heartbeat_seconds,
            lease_seconds=self.settings.lease_seconds,
            lost_after_seconds=self.settings.lost_after_seconds,
            approved=joined.approved,
            store_id=self.db.store_id,
        )

    def same_store(self, remembered: str | None) -> None:
        """A spoke that remembers another store than this hub's is refused: this hub does
        not hold what was acknowledged to it (issue 14)."""
        if not remembered or remembered == self.db.store_id:
            return
        self._other_store.log(  # before any token is checked: anyone may send it
            log,
            logging.ERROR,
            "a spoke remembers hub store %s, but this hub's store is %s (%s): refused. This "
            "hub does not hold what was acknowledged before; restore its store from a backup",
            shown(remembered[:64]),
            self.db.store_id,
            self.db.display_url,
        )
        raise Conflict(
            f"this spoke remembers hub store {remembered[:64]}, but this hub's store is "
            f"{self.db.store_id}: the hub lost what it acknowledged (its store was deleted or "
            "replaced). Restore the hub's store from a backup; to start over on purpose, "
            "reset the spoke (spokectl forget-hub --state-dir DIR, or kindfleet down)",
            errors=[{"path": STORE_HEADER, "message": "not this hub's store"}],
        )

    async def heartbeat(
        self, name: str, req: HeartbeatRequest, credential: str | None = None
    ) -> HeartbeatResponse:
        """`credential`, here and in `poll` and `ingest`: the digest the request was
        authenticated with, checked again on the writer (`protocol._held_by`)."""
        cap = req.capacity
        _check_capacity(cap.cpu_millis, cap.memory_bytes, "capacity")
        now, heard = self.clock(), self.ears.now()

        def job(conn: Connection) -> protocol.Beat:
            beat = protocol.heartbeat(
                conn,
                name,
                (cap.cpu_millis, cap.memory_bytes, cap.gpus),
                req.held,
                now=now,
                queue=self.queue,
                credential=credential,
            )
            after_commit(conn, lambda: self.ears.heard_from(name, heard))
            return beat

        beat = await self.db.writer.run(job, urgent=True)
        if beat.previous is not SpokeHealth.READY:
            log.info("spoke %s is Ready again (was %s)", name, beat.previous.value)
        if beat.stop:
            log.info("spoke %s told to stop %d stale copies", name, len(beat.stop))
        if beat.redelivered:
            log.warning(
                "spoke %s no longer holds %d assignment(s) it had acknowledged (it lost an "
                "accept it had not written down): sending them again",
                name,
                beat.redelivered,
            )
            self.notifier.wake(name)
        if beat.previous is not SpokeHealth.READY or beat.capacity_changed:
            self.on_change()
        return HeartbeatResponse(
            health=SpokeHealth.READY,
            stop=beat.stop,
            heartbeat_seconds=self.settings.heartbeat_seconds,
        )

    async def poll(self, name: str, wait: float, credential: str | None = None) -> AssignmentBatch:
        """Due assignments now, or wait (at most 30 s) for some to appear. A long poll
        (`wait` > 0) answers no sooner than POLL_SPACING after the spoke's last answer that
        carried work: what comes meanwhile goes in the same answer."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(max(wait, 0.0), MAX_WAIT)
        redeliver = self.settings.redeliver_seconds
        batch = await self._poll(
            name, loop, deadline, redeliver, spaced=wait > 0, credential=credential
        )
        if batch.items:  # an empty answer starts a quiet spell: the next is not held back
            self._answered[name] = loop.time()
        return batch

    async def _poll(
        self,
        name: str,
        loop: asyncio.AbstractEventLoop,
        deadline: float,
        redeliver: float,
        *,
        spaced: bool,
        credential: str | None,
    ) -> AssignmentBatch:
        while True:
            last = self._answered.get(name) if spaced and not self.notifier.closed else None
            if last is not None and (pause := min(last + POLL_SPACING, deadline) - loop.time()) > 0:
                await asyncio.sleep(pause)
            seen = self.notifier.version(name)
            now = self.clock()
            due = await self._take_due(name, now, redeliver, credential)
            remaining = deadline - loop.time()
            if due.items or remaining <= 0 or self.notifier.closed:
                return AssignmentBatch(items=due.items)
            if due.next_due is not None:
                remaining = min(remaining, max(due.next_due - now, 0.01))
            await self.notifier.wait(name, seen, remaining)

    async def _take_due(
        self, name: str, now: float, redeliver: float, credential: str | None
    ) -> protocol.Due:
        return await self.db.writer.run(
            lambda conn: protocol.take_due(conn, name, now, redeliver, credential), urgent=True
        )

    async def ingest(self, name: str, batch: EventBatch, credential: str | None = None) -> EventAck:
        _check_batch(batch)
        now = self.clock()
        done = await self.db.writer.run(
            lambda conn: protocol.ingest(conn, name, batch, now, self.queue, credential=credential),
            urgent=True,
        )
        ack = done.ack
        applied = len(batch.events) + len(batch.telemetry) - ack.duplicates - len(ack.refused)
        self.metrics.applied.inc(applied)
        self.metrics.duplicate.inc(ack.duplicates)
        self.metrics.refused.inc(len(ack.refused))
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
        full = now - self._last_full >= FULL_PASS_EVERY
        cfg = PassConfig(
            rules=self.settings.lease_rules,
            policy=self.settings.policy,
            hearing=self.ears.hearing(),
            heard=self.ears.heard,
            holding=self.holding,
            place=place,
            prune_before=now - self.settings.telemetry_retention_seconds if prune else None,
            full=full,
        )
        report = await self.db.writer.run(lambda conn: run_pass(conn, now, cfg, self.queue))
        if count:
            report.counts = await self.db.read(store.count_by_state)
            self._last_count = now
        if prune:
            self._last_prune = now
        if full:
            self._last_full = now
        was = self.guard.active
        self.guard = report.guard
        self.holding = frozenset(report.holding)
        if report.longest_hold:
            # The silence that began before this verdict is still within the marks kept
            # (they reach past the loss window): from now on they reach past the lease too.
            self.ears.keep_at_least(self.settings.keep_audible_seconds + report.longest_hold)
        announce(report, self.metrics, self.notifier, was_guarded=was, queued=len(self.queue))
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
