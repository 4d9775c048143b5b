"""Prometheus metrics of one hub, in a registry of its own.

A registry per app (not prometheus-client's global one) lets tests and embedders run
many hubs in one process without "duplicated timeseries" errors.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from kindfleet.platform.wire import SpokeHealth, WorkloadState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class HubMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "kindfleet_hub_http_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "kindfleet_hub_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.submissions = Counter(
            "kindfleet_hub_submissions", "Workload submissions by outcome", ["result"], registry=r
        )
        self.commit_seconds = Histogram(
            "kindfleet_hub_store_group_seconds",
            "Time to run and commit one group of store jobs",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
            registry=r,
        )
        self.group_jobs = Histogram(
            "kindfleet_hub_store_group_jobs",
            "Store jobs committed together (group commit)",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048),
            registry=r,
        )
        self.workloads = Gauge(
            "kindfleet_hub_workloads", "Workloads by state", ["state"], registry=r
        )
        self.spokes = Gauge("kindfleet_hub_spokes", "Spokes by health", ["health"], registry=r)
        self.placements = Counter("kindfleet_hub_placements", "Workloads assigned", registry=r)
        self.long_polls = Gauge(
            "kindfleet_hub_long_polls",
            "Spokes' long polls for assignments waiting now (about one per connected spoke)",
            registry=r,
        )
        self.reroutes = Counter(
            "kindfleet_hub_lost_work",
            "Work of lost spokes by what happened to it",
            ["outcome"],
            registry=r,
        )
        self.expired = Counter(
            "kindfleet_hub_expired", "Workloads expired in the queue", registry=r
        )
        self.events = Counter(
            "kindfleet_hub_events", "Spoke reports by outcome", ["result"], registry=r
        )
        self.guard = Gauge(
            "kindfleet_hub_disruption_guard",
            "1 while the disruption guard is on: more than half of the working spokes (and at "
            "least two) are silent at once, so Lost verdicts are held back (each for at most "
            "--guard-max-seconds); kindfleet spokes says which and why",
            registry=r,
        )
        self.guard_silent = Gauge(
            "kindfleet_hub_disruption_guard_silent_spokes",
            "Working spokes that are silent now (what turns the guard on)",
            registry=r,
        )
        self.guard_population = Gauge(
            "kindfleet_hub_disruption_guard_population",
            "Spokes the guard counts: approved, heartbeated since joining, not Lost",
            registry=r,
        )
        self.guard_held = Gauge(
            "kindfleet_hub_disruption_guard_held_spokes",
            "Spokes that would be Lost now but for the guard",
            registry=r,
        )
        self.queued = Gauge(
            "kindfleet_hub_queued_workloads", "Pending workloads in the hub's queue", registry=r
        )
        for state in WorkloadState:
            self.workloads.labels(state.value)
        for health in SpokeHealth:
            self.spokes.labels(health.value)
        # Labelled children, kept: `labels()` checks and locks on every call, and costs a
        # submission more than the count itself (issue 17). Their label sets are bounded:
        # route templates, methods, statuses.
        self.created = self.submissions.labels("created")
        self.existing = self.submissions.labels("existing")
        self.applied = self.events.labels("applied")
        self.duplicate = self.events.labels("duplicate")
        self.refused = self.events.labels("refused")
        self._counts: dict[tuple[str, str, int], Any] = {}
        self._timings: dict[tuple[str, str], Any] = {}

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One answered request, by its route's template."""
        count = self._counts.get((method, route, status))
        if count is None:
            count = self._counts[method, route, status] = self.requests.labels(
                method, route, str(status)
            )
        count.inc()
        timing = self._timings.get((method, route))
        if timing is None:
            timing = self._timings[method, route] = self.latency.labels(method, route)
        timing.observe(seconds)

    def observe_group(self, jobs: int, seconds: float) -> None:
        self.group_jobs.observe(jobs)
        self.commit_seconds.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
