"""One asyncio task per run: start it, watch it, stop it when asked or when its time is up,
and conclude it with exactly one terminal event. Which terminal event depends on why it
ended, and the answer is decided here in one place (`_outcome`):

- it exited on its own: succeeded (exit 0) or failed (exit code, or why it was lost);
- cancelled (a cancel delivered by the long-poll): cancelled;
- its `timeout_seconds` ran out: failed, DeadlineExceeded;
- exclusive work whose lease ran out unanswered (the hub silent too long): failed,
  LeaseExpired, before the hub may place it again (`kindfleet.platform.exclusive`); such
  a run is not started either while its lease has no time left;
- the agent is shutting down: failed, AgentShutdown (the hub's retry policy decides);
- fenced (listed in the heartbeat's `stop`, superseded by a newer generation, or its
  reports refused as stale): no event at all; the hub no longer counts this copy as its
  workload's, and anything it said would be refused.

The supervisor knows a run, the executor and the records, nothing of the other runs: when
a run is over it says so through `RunEnded` (runs.py keeps the books).
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from kindfleet.platform import exclusive
from kindfleet.platform.agent import diskroom, logs, reports
from kindfleet.platform.agent.answers import HubAnswers
from kindfleet.platform.agent.backoff import Backoff
from kindfleet.platform.agent.executors.base import (
    Executor,
    ExecutorError,
    RunPhase,
    RunRequest,
    RunStatus,
)
from kindfleet.platform.agent.metrics import chunks
from kindfleet.platform.agent.records import Records
from kindfleet.platform.agent.state import Held, Phase
from kindfleet.platform.agent.waiting import wait_event
from kindfleet.platform.wire import EventType

log = logs.get("runs")
_NO_POLL = 3600.0  # how long to sleep between checks when the executor pushes a run's end
NO_ROOM_RETRY_MAX = 2.0  # seconds, at most, between tries to start a run the disk refused


async def _older_gone(run: Run) -> None:
    """Until the older generations this run fenced have ended, or the run is stopped: one
    generation of a workload at a time on a spoke. Fenced, an older run still has its stop
    grace to end (a trainer saving a checkpoint ignores SIGTERM): started at once, the new
    one ran beside it for as long, exclusive work included."""
    while run.stop is None:
        older = [task for task in run.after if not task.done()]
        if not older:
            return
        run.wake.clear()
        stopped = asyncio.ensure_future(run.wake.wait())
        try:
            await asyncio.wait([*older, stopped], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()


class Stop(enum.IntEnum):
    """Why a run is being stopped; a stronger reason replaces a weaker one."""

    SHUTDOWN = 1
    TIMEOUT = 2
    LEASE = 3
    CANCEL = 4
    FENCE = 5


@dataclass(eq=False)
class Run:
    held: Held
    accepted: asyncio.Future[None] | None = None  # the accept's commit (None: already durable)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    stop: Stop | None = None
    task: asyncio.Task[None] | None = None
    no_room: bool = False  # unstarted: the disk had no room for it at its last try
    heard: asyncio.Event | None = None  # recovered unstarted: starts once the hub was asked
    # The tasks of older generations of its workload held here, fenced by this one: it
    # starts once they are over (a fenced run may take its stop grace to end).
    after: list[asyncio.Task[None]] = field(default_factory=list)

    def request_stop(self, why: Stop) -> bool:
        """Ask the run to stop; False when it was already asked for as strong a reason."""
        if self.stop is not None and self.stop >= why:
            return False
        self.stop = why
        self.wake.set()
        return True


# Told when a run is over: `done` is its DONE record (terminal event committed), or None when
# it ended without a report (fenced, or left unstarted for the next agent by a shutdown).
RunEnded = Callable[[Run, Held | None], None]
# Told as soon as nothing of a run runs any more, before its end is written down: what it
# held (cpu, memory, GPUs) is free from then on. Its report may reach the hub before the
# run's task has carried on, and the hub may then send new work at once: the capacity must
# be free by then, or that work would be refused.
RunFreed = Callable[[Run], None]


@dataclass(frozen=True)
class Outcome:
    type: EventType
    exit_code: int | None
    reason: str | None
    message: str | None = None


@dataclass(frozen=True)
class Timing:
    stop_grace_seconds: float
    supervise_interval: float


class Supervisor:
    def __init__(
        self,
        executor: Executor,
        records: Records,
        *,
        runs_dir: Path,
        timing: Timing,
        answers: HubAnswers,
        ended: RunEnded,
        freed: RunFreed,
    ) -> None:
        self.answers = answers
        self.executor = executor
        self.records = records
        self.runs_dir = runs_dir
        self._runs = str(runs_dir)
        self.timing = timing
        self.ended = ended
        self.freed = freed

    def supervise(self, run: Run) -> None:
        run.task = asyncio.create_task(self._supervise(run), name=f"run {run.held.key}")

    def request(self, held: Held) -> RunRequest:
        return RunRequest(
            workload=held.workload,
            generation=held.generation,
            spec=held.spec,
            run_dir=Path(f"{self._runs}/{held.key}"),  # a run key is one plain name
            gpu_ids=held.gpu_ids,
        )

    async def _supervise(self, run: Run) -> None:
        try:
            if run.held.phase is Phase.ACCEPTED:
                if run.accepted is not None:
                    await run.accepted  # never start what a crash could make us forget
                if not await self._start_when_possible(run):
                    return
            await self._watch(run)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self.records.journal.closing:  # stopping with a disk that took nothing more
                log.warning(
                    "%s: its end was not written before the stop (%s); the next agent reports it",
                    run.held.key,
                    exc,
                )
                return
            log.exception("supervising %s failed", run.held.key)
            await self._give_up(run)

    async def _lease_to_start(self, run: Run) -> None:
        """Exclusive work starts only with time left on its lease to run in
        (`exclusive.may_start`): wait for the hub to answer a heartbeat (or for a reason to
        give up: cancel, fence, shutdown)."""
        grace = self.timing.stop_grace_seconds
        lease = run.held.spec.lease
        while True:
            run.wake.clear()  # woken, it looks again; left set, the wait would not wait
            if run.stop is not None:
                return
            left = self.answers.time_left(run.held.spec, grace)
            if left is None or lease is None or exclusive.may_start(left, lease, grace):
                return
            await wait_event(run.wake, self.timing.supervise_interval)

    async def _start_when_possible(self, run: Run) -> bool:
        """Start the run once it may start and the disk has room for it: whether it runs
        (if not, it has ended: stopped before it started, or failed to start)."""
        waiting = Backoff(base=self.timing.supervise_interval, cap=NO_ROOM_RETRY_MAX)
        if run.heard is not None:
            await _either(run.heard, run.wake)  # a stop (the hub's fence) ends the wait
        await _older_gone(run)
        while True:
            if run.stop is None:
                await self._lease_to_start(run)
            if run.stop is not None:
                await self._end_unstarted(run)
                return False
            run.wake.clear()  # before the try: a stop while it is on its way is seen after
            started = await self._start(run)
            if started is not None:
                return started
            await wait_event(run.wake, waiting.next_delay())  # or a stop: cancel, fence

    async def _start(self, run: Run) -> bool | None:
        """Whether it started; None when the disk had no room for it (nothing of it ran)."""
        if self.records.was_pruned(run.held.key):  # ran here once; its directory is gone
            why = "this generation ran on this spoke before: a generation never runs twice"
            await self._finish(run, Outcome(EventType.FAILED, None, "AlreadyRan", why))
            return False
        try:
            handle = await self.executor.start(self.request(run.held))
        except ExecutorError as exc:
            if exc.reason == diskroom.NO_ROOM:
                self._no_room(run, exc.message)
                return None
            await self._finish(run, Outcome(EventType.FAILED, exc.code, exc.reason, exc.message))
            return False
        except OSError as exc:
            if diskroom.full(exc):
                self._no_room(run, exc.strerror)
                return None
            await self._finish(run, Outcome(EventType.FAILED, None, "StartFailed", exc.strerror))
            return False
        if run.no_room:
            run.no_room = False
            log.warning("%s: started, the disk has room again", run.held.key)
        held = run.held.running(handle, time.time())
        run.held = held
        # Not awaited: the run's terminal event is queued behind it, in the same order.
        self.records.started(
            held, reports.status(held.workload, held.generation, EventType.STARTED)
        )
        log.debug("started %s", held.key)
        return True

    def _no_room(self, run: Run, why: str | None) -> None:
        if run.stop is not None:  # asked to stop while it tried: it ends, it does not wait
            return
        if not run.no_room:
            run.no_room = True
            log.error(
                "%s: not started, the disk has no room for it (%s); it waits, unstarted, and "
                "starts once there is room: free space in %s",
                run.held.key,
                why,
                self.runs_dir,
            )

    async def _watch(self, run: Run) -> None:
        assert run.held.handle is not None
        handle = run.held.handle
        pushed = self.executor.watch(handle, run.wake)
        timeout = run.held.spec.timeout_seconds
        while True:
            run.wake.clear()
            status = await self.executor.poll(handle)
            if not status.running:
                await self.conclude(run, status, natural=True)
                return
            if run.stop is not None:
                status = await self.executor.stop(handle, grace_seconds=self._grace(run))
                await self.conclude(run, status)
                return
            wait = _NO_POLL if pushed else self.timing.supervise_interval
            left = self.answers.time_left(run.held.spec, self.timing.stop_grace_seconds)
            if left is not None:
                if left <= 0:
                    run.request_stop(Stop.LEASE)
                    continue
                wait = min(wait, left)
            if timeout is not None:
                left = (run.held.started_at or time.time()) + timeout - time.time()
                if left <= 0:
                    run.request_stop(Stop.TIMEOUT)
                    continue
                wait = min(wait, left)
            await wait_event(run.wake, wait)

    def _grace(self, run: Run) -> float:
        """How long a run being stopped may take to end: the stop grace, but exclusive work
        never past its lease (a spoke thawed after its lease ran out kills it at once: the
        hub may have placed it again already)."""
        grace = self.timing.stop_grace_seconds
        left = self.answers.time_left(run.held.spec, grace)
        return grace if left is None else max(0.0, min(grace, left + grace))

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
            self.ended(run, None)
        else:
            await self._finish(run, _outcome(run, RunStatus(RunPhase.LOST)))

    async def _final_metrics(self, run: Run) -> None:
        held = run.held
        usage = await self.executor.sample(held.handle) if held.handle else None
        if usage is None or not usage.metrics:
            return
        self.records.telemetry(
            [
                reports.telemetry(metrics, workload=held.workload, generation=held.generation)
                for metrics in chunks(usage.metrics)
            ]
        )

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
        self.freed(run)
        done = await self.records.finished(held, body)
        self.ended(run, done)
        if held.handle is not None:
            await self.executor.release(held.handle)
        log.debug(
            "%s %s (exit %s, %s)", outcome.type.value, held.key, outcome.exit_code, outcome.reason
        )

    async def _drop(self, run: Run) -> None:
        held = run.held
        self.freed(run)
        await self.records.dropped(held)
        self.ended(run, None)
        if held.handle is not None:
            await self.executor.release(held.handle)
        log.info("fenced %s: stopped without a report", held.key)

    async def _give_up(self, run: Run) -> None:
        """The supervisor itself failed: stop the run and report it failed, best effort."""
        with suppress(Exception):
            if run.held.handle is not None:
                await self.executor.stop(run.held.handle, grace_seconds=0)
            outcome = Outcome(
                EventType.FAILED, None, "AgentError", "the agent lost track of this run"
            )
            await self._finish(run, outcome)


async def _either(first: asyncio.Event, second: asyncio.Event) -> None:
    """Until either event is set."""
    waits = [asyncio.ensure_future(e.wait()) for e in (first, second)]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


_STOPPED = {
    Stop.CANCEL: (EventType.CANCELLED, "Cancelled", None),
    Stop.SHUTDOWN: (EventType.FAILED, "AgentShutdown", "the spoke agent was stopped"),
}


def _outcome(run: Run, status: RunStatus, *, natural: bool = False) -> Outcome:
    stop = None if natural else run.stop
    code = status.exit_code
    if stop is Stop.LEASE:
        lease = run.held.spec.lease or 0
        return Outcome(
            EventType.FAILED,
            code,
            "LeaseExpired",
            f"exclusive: stopped before its {lease:g}s lease ran out with the hub unanswered",
        )
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
