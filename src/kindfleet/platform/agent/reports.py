"""What the agent says to the hub, built as plain values with no I/O: status events and
telemetry points as outbox bodies, and outbox entries as one `EventBatch`. This is the
whole of what leaves a spoke, so it is kept in one place where it can be read at a glance:
states, exit codes, short reasons, numbers. Never a log line, an output or an env value.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from kindfleet.platform.agent.outbox import Entry
from kindfleet.platform.wire import MAX_MESSAGE, EventBatch, EventType, TelemetryPoint

# Per-run resource metrics (the workload's own metrics are forwarded under their names).
CPU_CORES, RSS_BYTES, ELAPSED, GPUS = "cpu_cores", "rss_bytes", "elapsed_seconds", "gpus"
# Per-spoke metrics.
RUNNING = "running"
ALLOCATED_CPU, ALLOCATED_MEMORY, ALLOCATED_GPUS = (
    "allocated_cpu_cores",
    "allocated_memory_bytes",
    "allocated_gpus",
)


def now() -> datetime:
    return datetime.now(UTC)


def status(
    workload: str,
    generation: int,
    type_: EventType,
    *,
    exit_code: int | None = None,
    reason: str | None = None,
    message: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """A StatusEvent's fields as JSON values (without `seq`: the outbox assigns it).

    Built directly, not through the model: this runs three times per run. `batch` validates
    every entry against the wire model before it leaves; a test holds the two equal.
    """
    return {
        "workload": workload,
        "generation": generation,
        "type": type_.value,
        "at": iso(at) if at is not None else now_iso(),
        "exit_code": exit_code,
        "reason": reason[:64] if reason else None,
        "message": message[:MAX_MESSAGE] if message else None,
    }


def iso(at: datetime) -> str:
    """A UTC time as the wire models write it (ISO 8601, `Z`)."""
    return at.isoformat().replace("+00:00", "Z")


def now_iso() -> str:
    """`iso(now())`, without building a datetime: three of these per run."""
    t = time.time()
    second = int(t)
    us = int((t - second) * 1e6)
    head = _SECONDS.get(second)
    if head is None:
        head = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _SECONDS.clear()
        _SECONDS[second] = head
    return f"{head}.{us:06d}Z" if us else f"{head}Z"


_SECONDS: dict[int, str] = {}


def telemetry(
    metrics: Mapping[str, float],
    *,
    workload: str | None = None,
    generation: int | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    point = TelemetryPoint(
        seq=1, workload=workload, generation=generation, at=at or now(), metrics=dict(metrics)
    )
    return point.model_dump(mode="json", exclude={"seq"})


def batch(entries: Sequence[Entry]) -> EventBatch:
    """Outbox entries (in seq order) as one request body, validated against the wire models
    in one pass over their stored JSON (no entry is parsed into Python objects first)."""
    events = ",".join(_with_seq(e) for e in entries if e.kind == "event")
    points = ",".join(_with_seq(e) for e in entries if e.kind == "telemetry")
    return EventBatch.model_validate_json(f'{{"events":[{events}],"telemetry":[{points}]}}')


def _with_seq(entry: Entry) -> str:
    return f'{{"seq":{entry.seq},{entry.raw[1:]}' if entry.raw != "{}" else f'{{"seq":{entry.seq}}}'
