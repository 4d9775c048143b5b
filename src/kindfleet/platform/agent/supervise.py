"""One asyncio task per run: start it, watch it, stop it when asked or when its time is up,
and conclude it with exactly one terminal event. Which terminal event depends on why it
ended, and the answer is decided here in one place (`_outcome`):

- it exited on its own: succeeded (exit 0) or failed (exit code, or why it was lost);
- cancelled (a cancel delivered by the long-poll): cancelled;
- its `timeout_seconds` ran out: failed, DeadlineExceeded;
- the agent is shutting down: failed, AgentShutdown (the hub's retry policy decides);
- fenced (listed in the heartbeat's `stop`, superseded by a newer generation, or its
  reports refused as stale): no event at all; the hub no longer counts this copy as its
  workload's, and anything it said would be refused.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kindfleet.platform.agent import logs, reports
from kindfleet.platform.agent.executors.base import ExecutorError, RunPhase, RunStatus
from kindfleet.platform.agent.metrics import chunks
from kindfleet.platform.agent.state import Held, Phase
from kindfleet.platform.agent.waiting import wait_event
from kindfleet.platform.wire import EventType

if TYPE_CHECKING:
    from kindfleet.platform.agent.runs import RunManager

log = logs.get("runs")


class Stop(enum.IntEnum):
    """Why a run is being stopped; a stronger reason replaces a weaker one."""

    SHUTDOWN = 1
    TIMEOUT = 2
    CANCEL = 3
    FENCE = 4


@dataclass(eq=False)
class Run:
    held: Held
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    stop: Stop | None = None
    task: asyncio.Task[None] | None = None


@dataclass(frozen=True)
class Outcome:
    type: EventType
    exit_code: int | None
    reason: str | None
    message: str | None = None


class Supervisor:
    def __init__(self, manager: RunManager, on_report: Callable[[], None]) -> None:
        self.m = manager
        self.on_report = on_report

    def adopt(self, held: Held) -> Run:
        run = Run(held)
        self.m.runs[held.key] = run
        return run

    def spawn(self, held: Held) -> Run:
        run = self.adopt(held)
        run.task = asyncio.create_task(self._supervise(run), name=f"run {held.key}")
        return run

    def request_stop(self, run: Run, why: Stop) -> bool:
        if run.stop is not None and run.stop >= why:
            return False
        run.stop = why
        run.wake.set()
        return True

    async def _supervise(self, run: Run) -> None:
        try:
            if run.held.phase is Phase.ACCEPTED:
                if run.stop is not None:
                    await self._end_unstarted(run)
                    return
                if not await self._start(run):
                    return
            await self._watch(run)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("supervising %s failed", run.held.key)
            await self._give_up(run)

    async def _start(self, run: Run) -> bool:
        request = self.m.request(run.held)
        try:
            request.run_dir.mkdir(parents=True, exist_ok=True)
            handle = await self.m.executor.start(request)
        except ExecutorError as exc:
            await self._finish(run, Outcome(EventType.FAILED, exc.code, exc.reason, exc.message))
            return False
        except OSError as exc:
            await self._finish(run, Outcome(EventType.FAILED, None, "StartFailed", exc.strerror))
            return False
        held = run.held.but(phase=Phase.RUNNING, handle=handle, started_at=time.time())
        with self.m.db.transaction():
            self.m.holdings.put(held)
            body = reports.status(held.workload, held.generation, EventType.STARTED)
            self.m.outbox.append("event", body)
        run.held = held
        log.info("started %s", held.key)
        self.on_report()
        return True

    async def _watch(self, run: Run) -> None:
        assert run.held.handle is not None
        handle = run.held.handle
        timeout = run.held.spec.timeout_seconds
        while True:
            run.wake.clear()
            status = await self.m.executor.poll(handle)
            if not status.running:
                await self.conclude(run, status, natural=True)
                return
            if run.stop is not None:
                grace = self.m.settings.stop_grace_seconds
                status = await self.m.executor.stop(handle, grace_seconds=grace)
                await self.conclude(run, status)
                return
            started = run.held.started_at or time.time()
            if timeout is not None and time.time() - started >= timeout:
                self.request_stop(run, Stop.TIMEOUT)
                continue
            await wait_event(run.wake, self.m.settings.supervise_interval)

    async def conclude(self, run: Run, status: RunStatus, *, natural: bool = False) -> None:
        if run.stop is Stop.FENCE:
            await self._drop(run)
            return
        await self._final_metrics(run)
        await self._finish(run, _outcome(run, status, natural=natural))

    async def _end_unstarted(self, run: Run) -> None:
        if run.stop is Stop.FENCE:
            await self._drop(run)
        elif run.stop is Stop.SHUTDOWN:  # kept on disk: the next agent starts it
            self.m.runs.pop(run.held.key, None)
            self.m.ledger.release(run.held.key)
        else:
            await self._finish(run, _outcome(run, RunStatus(RunPhase.LOST)))

    async def _final_metrics(self, run: Run) -> None:
        held = run.held
        usage = await self.m.executor.sample(held.handle) if held.handle else None
        if usage is None or not usage.metrics:
            return
        with self.m.db.transaction():
            for metrics in chunks(usage.metrics):
                body = reports.telemetry(
                    metrics, workload=held.workload, generation=held.generation
                )
                self.m.outbox.append("telemetry", body)

    async def _finish(self, run: Run, outcome: Outcome) -> None:
        held = run.held
        body = reports.status(
            held.workload,
            held.generation,
            outcome.type,
            exit_code=outcome.exit_code,
            reason=outcome.reason,
            message=outcome.message,
        )
        with self.m.db.transaction():
            seq = self.m.outbox.append("event", body)
            done = held.but(phase=Phase.DONE, terminal_seq=seq)
            self.m.holdings.put(done)
        self.m.runs.pop(held.key, None)
        self.m.done[held.key] = done
        self.m.ledger.release(held.key)
        if held.handle is not None:
            await self.m.executor.release(held.handle)
        log.info(
            "%s %s (exit %s, %s)", outcome.type.value, held.key, outcome.exit_code, outcome.reason
        )
        self.on_report()

    async def _drop(self, run: Run) -> None:
        held = run.held
        self.m.holdings.delete(held.workload, held.generation)
        self.m.runs.pop(held.key, None)
        self.m.ledger.release(held.key)
        if held.handle is not None:
            await self.m.executor.release(held.handle)
        log.info("fenced %s: stopped without a report", held.key)

    async def _give_up(self, run: Run) -> None:
        """The supervisor itself failed: stop the run and report it failed, best effort."""
        with suppress(Exception):
            if run.held.handle is not None:
                await self.m.executor.stop(run.held.handle, grace_seconds=0)
            outcome = Outcome(
                EventType.FAILED, None, "AgentError", "the agent lost track of this run"
            )
            await self._finish(run, outcome)


_STOPPED = {
    Stop.CANCEL: (EventType.CANCELLED, "Cancelled", None),
    Stop.SHUTDOWN: (EventType.FAILED, "AgentShutdown", "the spoke agent was stopped"),
}


def _outcome(run: Run, status: RunStatus, *, natural: bool = False) -> Outcome:
    stop = None if natural else run.stop
    code = status.exit_code
    if stop is Stop.TIMEOUT:
        limit = run.held.spec.timeout_seconds or 0
        return Outcome(EventType.FAILED, code, "DeadlineExceeded", f"ran longer than {limit:g}s")
    if stop is not None and stop in _STOPPED:
        type_, reason, message = _STOPPED[stop]
        return Outcome(type_, code, reason, message)
    if status.phase is RunPhase.EXITED and code == 0:
        return Outcome(EventType.SUCCEEDED, 0, None)
    fallback = "NonZeroExitCode" if status.phase is RunPhase.EXITED else "Lost"
    return Outcome(EventType.FAILED, code, status.reason or fallback, status.message)
