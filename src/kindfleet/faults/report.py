"""The fleet's fault records as the hub's dashboard is told them (`PUT /v1/faults`).

The hub never reads the fleet's state directory (on KIND it runs in a cluster and could
not), so every command that changes the records sends the whole set to the hub: a report
lost while the hub was down, paused or partitioned is healed by the next one. Only what
an operator watching needs is sent, never a record's `undo` data (node names, rules).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from kindfleet.faults.records import FaultRecord, moment
from kindfleet.platform.wire import MAX_FAULTS, FaultNote, FaultReport


def _at(at: float | None) -> datetime | None:
    """None also for a time no datetime holds: a report must never fail on a record."""
    kept = moment(at)
    return None if kept is None else datetime.fromtimestamp(kept, UTC)


def report(fleet: str, records: list[FaultRecord], now: float | None = None) -> FaultReport:
    """The newest `MAX_FAULTS` records (live ones first kept), oldest first."""
    now = time.time() if now is None else now
    live = [r for r in records if r.live]
    kept = (live + [r for r in reversed(records) if not r.live])[:MAX_FAULTS]
    ordered = sorted(kept, key=lambda r: r.injected_at)
    notes = [
        FaultNote(
            id=r.id,
            action=r.action,
            cluster=r.cluster,
            role=r.role,
            state=r.state,
            injected_at=_at(r.injected_at) or datetime.fromtimestamp(0, UTC),
            until=_at(r.until),
            cleared_at=_at(r.cleared_at),
            detail=r.spec.describe().removeprefix(r.action).strip(" ()"),
            note=((r.error or r.note(now)) or "")[:1024],
        )
        for r in ordered
    ]
    return FaultReport(fleet=fleet, faults=notes)
