"""What the dashboard reads: the fleet at a glance, one workload in full, recent activity,
and the faults fleet tooling reported.

Everything here is a read. The fleet and workload views are the API's own reads (the
store's readers, never the writer), put together so that a page costs one call. Recent
activity costs the store nothing: it samples the hub's own counters (submissions,
placements, the queue, the per-state counts the scheduler refreshes every 10 s) into a
ring kept in memory, so a hub answering 2,000 submissions a second pays no query for it;
a restarted hub starts the ring afresh and says since when. Faults are what `kindfleet
fault` last told the hub (`PUT /v1/faults`): the hub never reads the fleet's state, and
keeps only the last report, in memory (the next fault command heals a restarted hub).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from kindfleet.platform.hub.rules.times import utc
from kindfleet.platform.hub.service.hub_service import HubService
from kindfleet.platform.hub.service.reads import ListQuery, TelemetryQuery
from kindfleet.platform.wire import (
    TERMINAL,
    Activity,
    ActivityPoint,
    Explanation,
    FaultBoard,
    FaultReport,
    SpokeList,
    TelemetrySeries,
    Workload,
    WorkloadList,
    WorkloadState,
)

log = logging.getLogger("kindfleet.hub")

SAMPLE_SECONDS = 5.0
KEEP_SECONDS = 600.0  # "the last minutes": ten of them
TELEMETRY_POINTS = 2000  # the newest points of a workload drawn in its charts
ACTIVE = (WorkloadState.ASSIGNED, WorkloadState.RUNNING)


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    submitted: float  # counter totals since the hub started
    placed: float
    pending: int
    active: int
    finished: int


def read_counters(registry: CollectorRegistry, at: float) -> Sample:
    """The hub's counters and gauges as they are now (public prometheus_client API only)."""

    def value(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, labels) or 0.0

    states = {s: int(value("kindfleet_hub_workloads", state=s.value)) for s in WorkloadState}
    return Sample(
        at=at,
        submitted=value("kindfleet_hub_submissions_total", result="created"),
        placed=value("kindfleet_hub_placements_total"),
        pending=int(value("kindfleet_hub_queued_workloads")),
        active=sum(states[s] for s in ACTIVE),
        finished=sum(states[s] for s in TERMINAL),
    )


class ActivityLog:
    """A ring of samples, one every `interval` seconds, `keep` seconds of them."""

    def __init__(self, interval: float = SAMPLE_SECONDS, keep: float = KEEP_SECONDS) -> None:
        self.interval = interval
        self._samples: deque[Sample] = deque(maxlen=max(2, int(keep / interval) + 1))
        self.started_at: float | None = None

    def add(self, sample: Sample) -> None:
        if self.started_at is None:
            self.started_at = sample.at
        self._samples.append(sample)

    def view(self) -> Activity:
        samples = list(self._samples)
        points = [
            ActivityPoint(
                at=utc(now.at),
                submitted=max(0, round(now.submitted - before.submitted)),
                placed=max(0, round(now.placed - before.placed)),
                pending=now.pending,
                active=now.active,
                finished=now.finished,
            )
            for before, now in itertools.pairwise(samples)
        ]
        since = samples[0].at if samples else (self.started_at or 0.0)
        return Activity(interval_seconds=self.interval, since=utc(since), points=points)


class Faults:
    """The last fault report of fleet tooling, and when it came."""

    def __init__(self) -> None:
        self._board = FaultBoard()

    def replace(self, report: FaultReport, at: float) -> FaultBoard:
        self._board = FaultBoard(report=report, received_at=utc(at))
        return self._board

    def board(self) -> FaultBoard:
        return self._board


@dataclass(frozen=True, slots=True)
class Overview:
    spokes: SpokeList
    counts: dict[str, int]
    faults: FaultBoard
    activity: Activity


@dataclass(frozen=True, slots=True)
class WorkloadDetail:
    workload: Workload
    explanation: Explanation | None  # for Pending work: why it waits
    telemetry: list[TelemetrySeries]


class Dashboard:
    """The dashboard's reads over one hub, and the two things it keeps in memory."""

    def __init__(self, hub: HubService, *, interval: float = SAMPLE_SECONDS) -> None:
        self.hub = hub
        self.activity = ActivityLog(interval)
        self.faults = Faults()

    def sample(self) -> None:
        self.activity.add(read_counters(self.hub.metrics.registry, self.hub.clock()))

    @contextlib.asynccontextmanager
    async def sampling(self) -> AsyncIterator[None]:
        """Sample the counters every interval while the hub runs."""

        async def loop() -> None:
            while True:
                try:
                    self.sample()
                except Exception:  # a sample skipped, not the charts stopped for good
                    log.exception("sampling the hub's counters for the dashboard failed")
                await asyncio.sleep(self.activity.interval)

        task = asyncio.create_task(loop(), name="kf-dashboard-sampler")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def counts(self) -> dict[str, int]:
        """Workloads by state, as the scheduler last counted them (at most 10 s old); the
        queue's length is always current."""
        registry = self.hub.metrics.registry

        def gauge(name: str, **labels: str) -> int:
            return int(registry.get_sample_value(name, labels) or 0)

        found = {s.value: gauge("kindfleet_hub_workloads", state=s.value) for s in WorkloadState}
        found[WorkloadState.PENDING.value] = gauge("kindfleet_hub_queued_workloads")
        return found

    def report_faults(self, report: FaultReport) -> FaultBoard:
        return self.faults.replace(report, self.hub.clock())

    async def overview(self) -> Overview:
        return Overview(
            spokes=await self.hub.spokes(),
            counts=self.counts(),
            faults=self.faults.board(),
            activity=self.activity.view(),
        )

    async def workloads(self, q: ListQuery) -> WorkloadList:
        return await self.hub.list_workloads(q)

    async def workload(self, workload_id: str) -> WorkloadDetail:
        found = await self.hub.get(workload_id)
        explanation = None
        if found.state is WorkloadState.PENDING:
            explanation = await self.hub.explain(workload_id)
        series = await self.hub.telemetry(
            TelemetryQuery(workload=workload_id, limit=TELEMETRY_POINTS)
        )
        return WorkloadDetail(found, explanation, series)
