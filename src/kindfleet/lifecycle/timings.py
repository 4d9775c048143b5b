"""How long `up` and `down` took, per cluster and per step, and the peak memory of each
cluster's nodes while `up` ran: the article's figures (3 clusters in 2-3 minutes, about
4 GB, teardown in about 10 s), measured by the tool on the machine it runs on.

Step durations come from the progress events every step already emits; memory from the
provider's own node listing (`Provider.nodes`, what `status` shows), sampled in the
background. Both are best effort: a sample that fails is skipped, never an error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kindfleet.lifecycle.events import Event, Reporter, ignore

SAMPLE_SECONDS = 2.0


@dataclass(frozen=True)
class Timings:
    steps: Mapping[str, Mapping[str, float]]  # cluster ("fleet": fleet-wide) -> step -> s
    peak_memory_bytes: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self, totals: Mapping[str, float]) -> dict[str, Any]:
        """Per cluster: its total seconds (`totals`), each step's, its nodes' peak memory."""
        names = list(dict.fromkeys([*totals, *self.steps, *self.peak_memory_bytes]))
        clusters = {}
        for name in names:
            entry: dict[str, Any] = {
                "steps": {k: round(v, 3) for k, v in self.steps.get(name, {}).items()}
            }
            if name in totals:
                entry["seconds"] = round(totals[name], 3)
            if name in self.peak_memory_bytes:
                entry["peakMemoryBytes"] = self.peak_memory_bytes[name]
            clusters[name] = entry
        peak = sum(self.peak_memory_bytes.values())
        return {"clusters": clusters, "peakMemoryBytes": peak if self.peak_memory_bytes else None}


class Recorder:
    """A reporter that keeps every finished step's duration and passes events on."""

    def __init__(self, forward: Reporter = ignore) -> None:
        self._forward = forward
        self._lock = threading.Lock()
        self._steps: dict[str, dict[str, float]] = {}

    def __call__(self, event: Event) -> None:
        if event.phase in ("done", "fail") and event.seconds is not None and not event.final:
            with self._lock:
                steps = self._steps.setdefault(event.cluster or "fleet", {})
                steps[event.step] = steps.get(event.step, 0.0) + event.seconds
        self._forward(event)

    def timings(self, peaks: Mapping[str, int] | None = None) -> Timings:
        with self._lock:
            steps = {k: dict(v) for k, v in self._steps.items()}
        return Timings(steps, dict(peaks or {}))


class MemoryPeaks:
    """`with MemoryPeaks(sample):` calls `sample()` (bytes per cluster) every few seconds
    in a thread and keeps each cluster's highest figure, with one last sample at the end."""

    def __init__(
        self, sample: Callable[[], Mapping[str, int]], interval: float = SAMPLE_SECONDS
    ) -> None:
        self._sample = sample
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory-peaks", daemon=True)
        self.peaks: dict[str, int] = {}

    def __enter__(self) -> MemoryPeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._once()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._once()

    def _once(self) -> None:
        try:
            found = self._sample()
        except Exception:  # best effort: a cluster half-made has no nodes to measure yet
            return
        for name, value in found.items():
            if value > self.peaks.get(name, 0):
                self.peaks[name] = value
