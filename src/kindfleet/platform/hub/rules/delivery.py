"""When an assignment or a cancellation goes (again) to its spoke.

Delivery is at-least-once: an assignment is sent until the spoke acknowledges it (an
`accepted` or `started` report, or holding it in a heartbeat), a cancellation until the
spoke reports how the run ended; in between, each is sent again every
`redeliver_seconds`, so a lost response costs a short delay, never the work.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace

from kindfleet.platform.hub.rules.transitions import ACTIVE, WorkloadRecord
from kindfleet.platform.wire import WorkloadState

# `delivered_at` of an assignment sent before and due again at once: not None, which says
# never sent (and so, to a removal, that its spoke cannot be running it).
LONG_AGO = 0.0


def delivery_due(rec: WorkloadRecord, now: float, redeliver_seconds: float) -> bool:
    """Assigned and not yet acknowledged: (re)send it when never sent or sent a while ago."""
    if rec.state is not WorkloadState.ASSIGNED or rec.accepted:
        return False
    return rec.delivered_at is None or now - rec.delivered_at >= redeliver_seconds


def forgotten(
    records: Iterable[WorkloadRecord], spoke: str, held: Collection[tuple[str, int]]
) -> list[WorkloadRecord]:
    """The spoke's acknowledged assignments its heartbeat no longer lists, to deliver again.

    A heartbeat lists everything its spoke holds, and holding an assignment acknowledges
    it; but a spoke that listed an accept it had not yet written down, then died (or whose
    disk refused the write), comes back without it, and an acknowledged assignment is
    never sent again: the work sat Assigned on a Ready spoke for ever. Not listed now, it
    is unacknowledged and due at once; a spoke that does hold it ignores the second copy
    and lists it in its next heartbeat, which acknowledges it again.

    It stays sent (`LONG_AGO`): a heartbeat built before the spoke accepted it can arrive
    after the `accepted` report, and the spoke is then running what it does not list."""
    return [
        replace(rec, accepted=False, delivered_at=LONG_AGO)
        for rec in records
        if rec.state is WorkloadState.ASSIGNED
        and rec.accepted
        and rec.spoke == spoke
        and (rec.id, rec.generation) not in held
    ]


def cancel_due(rec: WorkloadRecord, now: float, redeliver_seconds: float) -> bool:
    """A cancellation goes out until the spoke reports how the run ended."""
    if not rec.cancel_requested or rec.state not in ACTIVE:
        return False
    return rec.cancel_delivered_at is None or now - rec.cancel_delivered_at >= redeliver_seconds


def next_due(rec: WorkloadRecord, redeliver_seconds: float) -> float | None:
    """When this record next becomes due for (re)delivery, if ever."""
    times = []
    if rec.state is WorkloadState.ASSIGNED and not rec.accepted and rec.delivered_at is not None:
        times.append(rec.delivered_at + redeliver_seconds)
    if rec.cancel_requested and rec.state in ACTIVE and rec.cancel_delivered_at is not None:
        times.append(rec.cancel_delivered_at + redeliver_seconds)
    return min(times) if times else None
