"""The runs a spoke holds, from the assignment it accepts to the acknowledgement of the
report that ends it. This is where the dispatch rules of the platform meet the spoke:

- event order per run is accepted -> started -> succeeded | failed | cancelled, and each
  state change commits together with the outbox entry that reports it (records.py);
- a redelivered assignment is recognised and not run twice; a newer generation of a
  workload supersedes (fences) the older copy; an assignment that does not fit what is
  free here is `rejected`, so the hub places it again;
- a stop comes from a cancel (reported `cancelled`), the heartbeat's `stop` list or a
  refused report (fenced: stopped without another word), the run's timeout, or the agent's
  own shutdown; nothing else stops work, in particular not an unreachable hub.

The books are kept here (what runs, what is done and not yet acknowledged, what capacity is
promised); supervising one run is `supervise.py`'s, which reports back through `_ended`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence

from kindfleet.platform import exclusive
from kindfleet.platform.agent import logs, reports
from kindfleet.platform.agent.answers import HubAnswers
from kindfleet.platform.agent.capacity import Ledger, Need
from kindfleet.platform.agent.executors.base import Executor, RunPhase
from kindfleet.platform.agent.metrics import chunks
from kindfleet.platform.agent.outbox import Entry
from kindfleet.platform.agent.paths import run_key
from kindfleet.platform.agent.records import Records
from kindfleet.platform.agent.settings import AgentSettings
from kindfleet.platform.agent.state import Held, Phase
from kindfleet.platform.agent.supervise import Run, Stop, Supervisor, Timing
from kindfleet.platform.wire import Assignment, EventType, HeldAssignment

log = logs.get("runs")
ANSWERED_MEMORY = 10_000  # rejected or cancel-answered keys remembered (no repeated answers)


class RunManager:
    def __init__(
        self,
        settings: AgentSettings,
        executor: Executor,
        records: Records,
        answers: HubAnswers | None = None,
    ) -> None:
        self.settings = settings
        self.executor = executor
        self.records = records
        self.ledger = Ledger(settings.capacity)
        self.runs: dict[str, Run] = {}  # accepted or running
        self._of_workload: dict[str, list[Run]] = {}  # the same runs, by workload
        self.done: dict[str, Held] = {}  # terminal event committed, not yet acknowledged
        self._answered: set[str] = set()
        self.supervisor = Supervisor(
            executor,
            records,
            runs_dir=settings.runs_dir,
            timing=Timing(settings.stop_grace_seconds, settings.supervise_interval),
            answers=answers or HubAnswers(),
            ended=self._ended,
            freed=lambda run: self.ledger.release(run.held.key),
        )

    # ------------------------------------------------------------------ what we hold

    def held(self) -> list[HeldAssignment]:
        items = [r.held for r in self.runs.values()] + list(self.done.values())
        return [HeldAssignment(workload=h.workload, generation=h.generation) for h in items]

    def holds(self, key: str) -> bool:
        """Accepted, running, or ended and not yet acknowledged by the hub."""
        return key in self.runs or key in self.done

    @property
    def running(self) -> int:
        return sum(1 for r in self.runs.values() if r.held.phase is Phase.RUNNING)

    @property
    def waiting_for_room(self) -> bool:
        """Some run waits, unstarted, for the disk to have room for it."""
        return any(r.no_room for r in self.runs.values())

    def _hold(self, run: Run) -> None:
        self.runs[run.held.key] = run
        self._of_workload.setdefault(run.held.workload, []).append(run)

    def _ended(self, run: Run, done: Held | None) -> None:
        key = run.held.key
        if self.runs.pop(key, None) is not None:
            others = self._of_workload[run.held.workload]
            others.remove(run)
            if not others:
                del self._of_workload[run.held.workload]
        self.ledger.release(key)
        if done is not None:
            self.done[key] = done

    # ------------------------------------------------------------------ from the hub

    async def take(self, items: Sequence[Assignment]) -> int:
        """Act on a long-poll answer; how many items were new (not redeliveries)."""
        acted = 0
        for item in items:
            acted += self.cancel(item) if item.cancel else self.accept(item)
        return acted

    def accept(self, item: Assignment) -> bool:
        key = run_key(item.workload, item.generation)
        if key in self.runs or key in self.done or key in self._answered:
            return False
        for run in list(self._of_workload.get(item.workload, ())):
            if run.held.generation > item.generation:
                return False  # an older generation, delivered late
            run.request_stop(Stop.FENCE)  # superseded by the new one
        lease = item.spec.lease
        grace = self.settings.stop_grace_seconds
        if lease is not None and exclusive.stop_after(lease, grace) < exclusive.MIN_RUN:
            why = f"lease {lease:g}s leaves no time to run with a {grace:g}s stop grace"
            self._answer(item, EventType.REJECTED, "LeaseTooShort", why)
            log.info("rejected %s generation %d: %s", item.workload, item.generation, why)
            return True
        need = Need.of(item.spec.resources)
        gpu_ids = self.ledger.reserve(key, need)
        if gpu_ids is None:
            self._answer(
                item, EventType.REJECTED, "InsufficientCapacity", self.ledger.shortfall(need)
            )
            log.info("rejected %s generation %d: does not fit", item.workload, item.generation)
            return True
        held = Held(item.workload, item.generation, item.spec, Phase.ACCEPTED, gpu_ids)
        body = reports.status(held.workload, held.generation, EventType.ACCEPTED)
        after = self._older(held)
        run = Run(held, accepted=self.records.accepted(held, body), after=after)
        self._hold(run)
        self.supervisor.supervise(run)
        log.debug("accepted %s generation %d", item.workload, item.generation)
        return True

    def cancel(self, item: Assignment) -> bool:
        key = run_key(item.workload, item.generation)
        if key in self.runs:
            return self.runs[key].request_stop(Stop.CANCEL)
        if key in self.done or key in self._answered:
            return False
        # Not held here (its delivery may have been lost): answer so the cancel completes.
        self._answer(item, EventType.CANCELLED, "Cancelled", "not running on this spoke")
        return True

    def apply_stop(self, items: Iterable[HeldAssignment]) -> None:
        """The heartbeat's `stop` list: copies held here that are no longer the hub's live
        assignment (stale, or ended on the hub's side). Stopped, not reported."""
        for item in items:
            key = run_key(item.workload, item.generation)
            if key in self.runs:
                log.info("hub stops %s generation %d", item.workload, item.generation)
                self.runs[key].request_stop(Stop.FENCE)
            elif key in self.done:
                self._forget(key)

    def retire_all(self) -> int:
        """The hub took this spoke's credential back and moved its work: every run here is
        stopped, not reported (as a stale copy is). How many were running."""
        for key, run in self.runs.items():
            log.info("hub no longer knows this spoke: stopping %s", key)
            run.request_stop(Stop.FENCE)
        for key in list(self.done):
            self._forget(key)
        return len(self.runs)

    def refused(self, seqs: Iterable[int], sent: Sequence[Entry]) -> None:
        """Our reports with these seqs were refused as stale: fence those copies."""
        refused = set(seqs)
        for entry in sent:
            if entry.seq not in refused or entry.kind != "event":
                continue
            key = run_key(str(entry.body["workload"]), int(entry.body["generation"]))
            if key in self.runs:
                log.info("report %d refused: fencing %s", entry.seq, key)
                self.runs[key].request_stop(Stop.FENCE)
            elif key in self.done:
                self._forget(key)

    async def acked(self, through: int) -> None:
        for workload, generation in await self.records.acked(through):
            self.done.pop(run_key(workload, generation), None)

    def _forget(self, key: str) -> None:
        self.records.dropped(self.done.pop(key))

    def _answer(self, item: Assignment, type_: EventType, reason: str, message: str | None) -> None:
        key = run_key(item.workload, item.generation)
        self._answered.add(key)
        if len(self._answered) > ANSWERED_MEMORY:
            self._answered = {key}
        body = reports.status(item.workload, item.generation, type_, reason=reason, message=message)
        self.records.answered(body)

    # ------------------------------------------------------------------ after a restart

    async def recover(self, heard: asyncio.Event | None = None) -> None:
        """Take back what the previous agent held: done ones wait for their ack, running ones
        are re-adopted or reported lost, unstarted ones start once `heard` is set (the first
        heartbeat's answer, or its failure: a hub that is down does not hold them up). The
        hub may have placed them elsewhere while this spoke was away, or had them run
        already (a state directory restored from a copy): that answer fences them before
        they start. They started at once, and ran beside the copy the hub placed instead."""
        helds = self.records.held()
        for held in helds:
            if held.phase is Phase.DONE:
                self.done[held.key] = held
        for held in helds:  # first: an unstarted one waits for the older ones still here
            if held.phase not in (Phase.DONE, Phase.ACCEPTED):
                await self._recover_running(held)
        for held in sorted(helds, key=lambda h: h.generation):
            if held.phase is Phase.ACCEPTED:
                self._recover_accepted(held, heard)

    def _recover_accepted(self, held: Held, heard: asyncio.Event | None) -> None:
        """Start it now, unless this spoke's capacity changed. If the previous agent had
        started it already (its run directory exists), the launcher refuses to start it a
        second time and it is reported failed: a generation never runs twice."""
        if self.ledger.reserve(held.key, Need.of(held.spec.resources), held.gpu_ids) is None:
            body = reports.status(
                held.workload,
                held.generation,
                EventType.REJECTED,
                reason="InsufficientCapacity",
                message="this spoke's capacity changed across an agent restart",
            )
            self.records.answered(body, forget=held)
            return
        run = Run(held, heard=heard, after=self._older(held))
        self._hold(run)
        self.supervisor.supervise(run)

    def _older(self, held: Held) -> list[asyncio.Task[None]]:
        """The tasks of the older generations of its workload held here: it starts once
        they are over (one generation of a workload at a time on a spoke)."""
        return [
            r.task
            for r in self._of_workload.get(held.workload, ())
            if r.held.generation < held.generation and r.task is not None
        ]

    async def _recover_running(self, held: Held) -> None:
        assert held.handle is not None
        status = await self.executor.recover(held.handle, self.supervisor.request(held))
        self.ledger.reserve(held.key, Need.of(held.spec.resources), held.gpu_ids, force=True)
        log.info("recovered %s: %s", held.key, status.phase.value)
        run = Run(held)
        self._hold(run)
        if status.phase is RunPhase.RUNNING:
            self.supervisor.supervise(run)  # re-adopted (a Job outlives its agent)
        else:
            await self.supervisor.conclude(run, status, natural=True)

    # ------------------------------------------------------------------ telemetry and shutdown

    async def sample(self) -> None:
        """One telemetry point per running run (plus its workload metrics) and one for the
        spoke, committed together."""
        bodies = []
        for run in list(self.runs.values()):
            held = run.held
            if held.phase is not Phase.RUNNING or held.handle is None:
                continue
            usage = await self.executor.sample(held.handle)
            if usage is None:
                continue
            elapsed = time.time() - (held.started_at or time.time())
            resource = {
                reports.CPU_CORES: round(usage.cpu_cores, 4),
                reports.RSS_BYTES: float(usage.rss_bytes),
                reports.ELAPSED: round(elapsed, 3),
                reports.GPUS: float(len(held.gpu_ids)),
            }
            for metrics in [resource, *chunks(usage.metrics)]:
                bodies.append(
                    reports.telemetry(metrics, workload=held.workload, generation=held.generation)
                )
        used = self.ledger.allocated
        spoke = {
            reports.RUNNING: float(self.running),
            reports.ALLOCATED_CPU: used.cpu_millis / 1000,
            reports.ALLOCATED_MEMORY: float(used.memory_bytes),
            reports.ALLOCATED_GPUS: float(used.gpus),
        }
        bodies.append(reports.telemetry(spoke))
        await self.records.telemetry(bodies)

    async def shutdown(self, timeout: float) -> None:
        """Stop every run (terminal events written), leave unstarted ones for the next start.

        Runs that outlive the agent by nature (Kubernetes Jobs) are left running: a rolling
        restart of the orchestrator must not kill the spoke's work; the next agent adopts
        them again (`recover`).
        """
        if getattr(self.executor, "outlives_agent", False):
            tasks = [r.task for r in self.runs.values() if r.task is not None]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=timeout)
            return
        for run in list(self.runs.values()):
            run.request_stop(Stop.SHUTDOWN)
        tasks = [r.task for r in self.runs.values() if r.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
