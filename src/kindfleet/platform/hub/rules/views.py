"""Records as the API shows them: the wire `Workload`, and one sentence about its state."""

from __future__ import annotations

from kindfleet.platform.hub.rules.times import utc
from kindfleet.platform.hub.rules.transitions import ACTIVE, AttemptRecord, WorkloadRecord
from kindfleet.platform.wire import Attempt, Workload, WorkloadState


def to_wire(rec: WorkloadRecord) -> Workload:
    return Workload(
        id=rec.id,
        spec=rec.spec,
        state=rec.state,
        generation=rec.generation,
        spoke=rec.spoke,
        attempts=[_attempt_wire(a) for a in rec.attempts],
        retries_used=rec.retries_used,
        cancel_requested=rec.cancel_requested,
        reason=rec.reason,
        message=rec.message,
        submitted_at=utc(rec.submitted_at),
        updated_at=utc(rec.updated_at),
    )


def _attempt_wire(a: AttemptRecord) -> Attempt:
    return Attempt(
        generation=a.generation,
        spoke=a.spoke,
        state=a.state,
        started_at=utc(a.started_at) if a.started_at is not None else None,
        finished_at=utc(a.finished_at) if a.finished_at is not None else None,
        exit_code=a.exit_code,
        reason=a.reason,
    )


def describe(rec: WorkloadRecord) -> str:
    """One sentence on a workload that is not waiting in the queue."""
    state = rec.state
    if state is WorkloadState.ASSIGNED:
        text = f"leased to spoke {rec.spoke} (generation {rec.generation}), not started yet"
    elif state is WorkloadState.RUNNING:
        text = f"running on spoke {rec.spoke} (attempt {len(rec.attempts)})"
    else:
        text = f"{state.value}" + (f" ({rec.reason})" if rec.reason else "")
        if rec.message:
            text += f": {rec.message}"
    if rec.cancel_requested and state in ACTIVE:
        text += "; cancellation requested"
    return text
