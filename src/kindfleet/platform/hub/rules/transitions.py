"""The rules that decide what happens to a workload, as pure functions of its record.

Every failure the hub is judged on (a blip that must not re-route, a lost spoke whose
work must move, a stale copy whose reports must be refused, a cancel that must reach
the spoke) comes down to one transition of one record. Keeping those transitions here,
free of store and clock (`now` is an argument), lets the tests walk every edge of the
state machine without a database or a sleep; the service only loads records, calls these
functions and saves what they return.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

from kindfleet.platform.hub.rules.placement import Amount, Demand
from kindfleet.platform.hub.rules.times import epoch
from kindfleet.platform.wire import EventType, StatusEvent, WorkloadSpec, WorkloadState
from kindfleet.units import parse_cpu, parse_memory

ACTIVE = frozenset({WorkloadState.ASSIGNED, WorkloadState.RUNNING})

# Reasons the hub writes (the spoke may send its own, e.g. DeadlineExceeded).
REJECTED = "Rejected"
SPOKE_LOST = "SpokeLost"
SPOKE_REMOVED = "SpokeRemoved"
SPOKE_REPLACED = "SpokeReplaced"  # a new agent joined under the spoke's name
RETRYING = "Retrying"
CANCELLED = "Cancelled"
EXPIRED = "PendingDeadlineExceeded"
DEADLINE_EXCEEDED = "DeadlineExceeded"
LEASE_EXPIRED = "LeaseExpired"  # exclusive work its spoke stopped: counts as a lost spoke


class TransitionError(Exception):
    """A request the state machine refuses (e.g. cancelling finished work)."""


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    generation: int
    spoke: str
    state: WorkloadState
    assigned_at: float
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class WorkloadRecord:
    """Everything the hub keeps about one workload (a store row, as plain values)."""

    id: str
    spec: WorkloadSpec
    state: WorkloadState
    submitted_at: float
    updated_at: float
    seq: int = 0  # submission order, given by the store
    generation: int = 0
    spoke: str | None = None
    retries_used: int = 0
    cancel_requested: bool = False
    accepted: bool = False  # the spoke acknowledged the current assignment
    delivered_at: float | None = None
    cancel_delivered_at: float | None = None
    reason: str | None = None
    message: str | None = None
    deadline_at: float | None = None  # give up if still Pending at this time
    attempts: tuple[AttemptRecord, ...] = ()

    @cached_property
    def request(self) -> Amount:
        return request_of(self.spec)

    @property
    def terminal(self) -> bool:
        return self.state.terminal

    def demand(self) -> Demand:
        return Demand(
            workload=self.id,
            request=self.request,
            selector=self.spec.selector,
            priority=self.spec.priority,
            order=self.seq,
            avoid=frozenset(a.spoke for a in self.attempts if a.reason == REJECTED),
        )


def request_of(spec: WorkloadSpec) -> Amount:
    res = spec.resources
    return Amount(parse_cpu(res.cpu), parse_memory(res.memory), res.gpu)


def new_record(workload_id: str, spec: WorkloadSpec, now: float, *, seq: int = 0) -> WorkloadRecord:
    return WorkloadRecord(
        id=workload_id,
        spec=spec,
        state=WorkloadState.PENDING,
        submitted_at=now,
        updated_at=now,
        seq=seq,
        deadline_at=_deadline(spec, now),
    )


def _deadline(spec: WorkloadSpec, now: float) -> float | None:
    """Each wait in the queue gets the full window (a retried attempt starts a new one)."""
    seconds = spec.pending_deadline_seconds
    return None if seconds is None else now + seconds


# ---------------------------------------------------------------- transitions


def assign(rec: WorkloadRecord, spoke: str, now: float) -> WorkloadRecord:
    """Lease the workload to one spoke under a new generation (the fencing token)."""
    if rec.state is not WorkloadState.PENDING:
        raise TransitionError(f"{rec.id} is {rec.state.value}, only Pending work is placed")
    generation = rec.generation + 1
    attempt = AttemptRecord(generation, spoke, WorkloadState.ASSIGNED, assigned_at=now)
    return replace(
        rec,
        state=WorkloadState.ASSIGNED,
        generation=generation,
        spoke=spoke,
        accepted=False,
        delivered_at=None,
        cancel_delivered_at=None,
        reason=None,
        message=None,
        deadline_at=None,
        updated_at=now,
        attempts=(*rec.attempts, attempt),
    )


def cancel(rec: WorkloadRecord, now: float) -> WorkloadRecord:
    """Pending ends at once; live work is asked to stop on its spoke; finished work can't."""
    if rec.terminal:
        raise TransitionError(f"workload {rec.id} already ended ({rec.state.value})")
    if rec.state is WorkloadState.PENDING:
        return _end(rec, WorkloadState.CANCELLED, now, reason=CANCELLED, message="cancelled")
    if rec.cancel_requested:
        return rec
    return replace(rec, cancel_requested=True, cancel_delivered_at=None, updated_at=now)


def expire(rec: WorkloadRecord, now: float) -> WorkloadRecord:
    seconds = rec.spec.pending_deadline_seconds
    return _end(
        rec,
        WorkloadState.EXPIRED,
        now,
        reason=EXPIRED,
        message=f"not placed within {seconds:g}s" if seconds else "not placed in time",
    )


def spoke_lost(rec: WorkloadRecord, now: float, *, why: str = SPOKE_LOST) -> WorkloadRecord:
    """The current attempt's spoke is Lost (or was removed): move, retry, fail or finish
    cancelling."""
    if rec.state not in ACTIVE:
        return rec
    what = {SPOKE_REMOVED: "removed", SPOKE_REPLACED: "joined again by a new agent"}
    lost = f"spoke {rec.spoke} was {what.get(why, 'lost')}"
    if rec.cancel_requested:
        attempt = _close(rec, WorkloadState.CANCELLED, now, reason=why)
        return _end(rec, WorkloadState.CANCELLED, now, CANCELLED, lost, attempt=attempt)
    if rec.state is WorkloadState.ASSIGNED:  # never started: no retry used
        attempt = _close(rec, WorkloadState.PENDING, now, reason=why)
        return _requeue(rec, now, why, f"{lost} before it started", attempt=attempt, retries=0)
    attempt = _close(rec, WorkloadState.FAILED, now, reason=why)
    if rec.spec.retry.retry_on_spoke_lost and rec.retries_used < rec.spec.retry.max_retries:
        return _retry(rec, now, lost, attempt)
    return _end(rec, WorkloadState.FAILED, now, why, f"{lost} while it ran", attempt=attempt)


@dataclass(frozen=True, slots=True)
class EventOutcome:
    record: WorkloadRecord | None  # None: refused, nothing changes
    note: str = ""  # what happened, for the log ("retried", "succeeded", ...)

    @property
    def refused(self) -> bool:
        return self.record is None


def apply_event(
    rec: WorkloadRecord | None, spoke: str, event: StatusEvent, now: float
) -> EventOutcome:
    """Apply one status report, or refuse it when it comes from a stale copy."""
    if rec is None or is_stale(rec, spoke, event.generation) or rec.state not in ACTIVE:
        return EventOutcome(None, "stale")
    at = epoch(event.at, default=now)
    kind = event.type
    if kind is EventType.ACCEPTED:
        return EventOutcome(replace(rec, accepted=True, updated_at=now))
    if kind is EventType.STARTED:
        return EventOutcome(_start(rec, at, now), "started")
    if kind is EventType.SUCCEEDED:
        attempt = _close(rec, WorkloadState.SUCCEEDED, at, exit_code=event.exit_code)
        done = _end(rec, WorkloadState.SUCCEEDED, now, None, event.message, attempt=attempt)
        return EventOutcome(done, "succeeded")
    if kind is EventType.REJECTED:
        return _rejected(rec, spoke, event, at, now)
    return _stopped(rec, event, at, now)


def _rejected(
    rec: WorkloadRecord, spoke: str, event: StatusEvent, at: float, now: float
) -> EventOutcome:
    """The spoke cannot run it: back to the queue, avoiding that spoke; but a cancel asked
    for meanwhile is not undone by a rejection (the work would run elsewhere)."""
    text = f"spoke {spoke} rejected it: {event.message or event.reason or 'no reason given'}"
    if rec.cancel_requested:
        attempt = _close(rec, WorkloadState.CANCELLED, at, reason=REJECTED)
        done = _end(rec, WorkloadState.CANCELLED, now, CANCELLED, text, attempt=attempt)
        return EventOutcome(done, "cancelled")
    attempt = _close(rec, WorkloadState.PENDING, at, reason=REJECTED)
    return EventOutcome(_requeue(rec, now, REJECTED, text, attempt=attempt, retries=0), "rejected")


def _stopped(rec: WorkloadRecord, event: StatusEvent, at: float, now: float) -> EventOutcome:
    """A run ended without success: cancelled, or failed (maybe to be retried)."""
    reason = event.reason or ("Failed" if event.type is EventType.FAILED else CANCELLED)
    if event.type is EventType.CANCELLED or rec.cancel_requested:
        attempt = _close(rec, WorkloadState.CANCELLED, at, event.exit_code, reason)
        done = _end(rec, WorkloadState.CANCELLED, now, CANCELLED, event.message, attempt=attempt)
        return EventOutcome(done, "cancelled")
    attempt = _close(rec, WorkloadState.FAILED, at, event.exit_code, reason)
    policy = rec.spec.retry
    allowed = policy.retry_on_spoke_lost if reason == LEASE_EXPIRED else policy.retry_on_failure
    if allowed and reason != DEADLINE_EXCEEDED and rec.retries_used < policy.max_retries:
        why = f"attempt {len(rec.attempts)} failed ({_exit_text(event)})"
        return EventOutcome(_retry(rec, now, why, attempt), "retried")
    message = event.message or _exit_text(event)
    return EventOutcome(
        _end(rec, WorkloadState.FAILED, now, reason, message, attempt=attempt), "failed"
    )


def _exit_text(event: StatusEvent) -> str:
    return f"exit code {event.exit_code}" if event.exit_code is not None else "failed"


def is_stale(rec: WorkloadRecord | None, spoke: str, generation: int) -> bool:
    """A report or a held copy that is not the workload's live assignment to this spoke."""
    return rec is None or rec.spoke != spoke or rec.generation != generation or rec.terminal


# ---------------------------------------------------------------- helpers


def _start(rec: WorkloadRecord, at: float, now: float) -> WorkloadRecord:
    if rec.state is WorkloadState.RUNNING:
        return replace(rec, accepted=True)
    last = replace(rec.attempts[-1], state=WorkloadState.RUNNING, started_at=at)
    return replace(
        rec,
        state=WorkloadState.RUNNING,
        accepted=True,
        updated_at=now,
        attempts=(*rec.attempts[:-1], last),
    )


def _close(
    rec: WorkloadRecord,
    state: WorkloadState,
    at: float,
    exit_code: int | None = None,
    reason: str | None = None,
) -> AttemptRecord:
    return replace(
        rec.attempts[-1], state=state, finished_at=at, exit_code=exit_code, reason=reason
    )


def _with_last(rec: WorkloadRecord, attempt: AttemptRecord | None) -> tuple[AttemptRecord, ...]:
    return rec.attempts if attempt is None else (*rec.attempts[:-1], attempt)


def _end(
    rec: WorkloadRecord,
    state: WorkloadState,
    now: float,
    reason: str | None,
    message: str | None,
    *,
    attempt: AttemptRecord | None = None,
) -> WorkloadRecord:
    return replace(
        rec,
        state=state,
        reason=reason,
        message=message,
        deadline_at=None,
        updated_at=now,
        attempts=_with_last(rec, attempt),
    )


def _requeue(
    rec: WorkloadRecord,
    now: float,
    reason: str,
    message: str,
    *,
    attempt: AttemptRecord,
    retries: int,
) -> WorkloadRecord:
    return replace(
        rec,
        state=WorkloadState.PENDING,
        spoke=None,
        accepted=False,
        cancel_requested=False,
        delivered_at=None,
        cancel_delivered_at=None,
        retries_used=rec.retries_used + retries,
        reason=reason,
        message=message,
        deadline_at=_deadline(rec.spec, now),
        updated_at=now,
        attempts=_with_last(rec, attempt),
    )


def _retry(rec: WorkloadRecord, now: float, why: str, attempt: AttemptRecord) -> WorkloadRecord:
    used = rec.retries_used + 1
    message = f"{why}; retry {used} of {rec.spec.retry.max_retries}"
    return _requeue(rec, now, RETRYING, message, attempt=attempt, retries=1)
