"""What every suite uses: the fleet, real workloads that keep their own ledger, waiting
with a bound, and the runs as the spokes themselves recorded them.

A check's workload prints `KF start <t>`, then `KF tick <t>` every 0.2 s while it runs,
then `KF end <t>`, to its own log on its spoke. Where and when work really ran is read
from those logs (through the provider, from the spoke that ran it: the data boundary),
never from the hub's records, so "never two runs at once" is the spokes' word.
"""

from __future__ import annotations

import itertools
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kindfleet.checks.model import CheckFailed
from kindfleet.checks.target import Target
from kindfleet.errors import KindfleetError
from kindfleet.platform.wire import Workload, WorkloadSpec

CHECK_LABEL = "kindfleet.dev/check"
TICK = 0.2
LEDGER = """
import sys, time
def note(kind):
    print(f"KF {kind} {time.time():.6f}", flush=True)
note("start")
end = time.time() + float(sys.argv[1])
while time.time() < end:
    time.sleep(min(0.2, max(0.0, end - time.time())))
    note("tick")
note("end")
"""


Check = Callable[["Context"], tuple[str, dict[str, float]]]


@dataclass(frozen=True)
class Run:
    """One attempt as its spoke's log tells it; `last` is when it was last seen alive."""

    workload: str
    generation: int
    spoke: str
    start: float
    last: float
    ended: bool


@dataclass
class CheckOptions:
    lost_after: float | None = None  # the hub's loss window; None: measured by a check
    timeout: float = 180.0  # the longest any one wait of a check may take
    kubeconfig: Any = None


@dataclass
class Context:
    target: Target
    options: CheckOptions = field(default_factory=CheckOptions)
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    _names: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def spec(self) -> Any:
        return self.target.spec

    @property
    def python(self) -> str:
        """The interpreter workloads run: this one locally, the image's in a cluster."""
        return "python" if self.spec.rules.kubernetes else sys.executable

    def name(self, what: str) -> str:
        return f"chk-{self.run_id}-{what}-{next(self._names)}"

    def workload(self, what: str, seconds: float, **extra: Any) -> WorkloadSpec:
        """A ledger workload of `seconds`, labelled as this check run's."""
        resources = extra.pop("resources", {"cpu": "100m", "memory": "32Mi"})
        return WorkloadSpec.model_validate(
            {
                "name": self.name(what),
                "command": [self.python, "-c", LEDGER, f"{seconds:g}"],
                "resources": resources,
                "labels": {CHECK_LABEL: self.run_id},
                **extra,
            }
        )

    def script(self, what: str, code: str, **extra: Any) -> WorkloadSpec:
        return WorkloadSpec.model_validate(
            {
                "name": self.name(what),
                "command": [self.python, "-c", code],
                "resources": {"cpu": "100m", "memory": "32Mi"},
                "labels": {CHECK_LABEL: self.run_id},
                **extra,
            }
        )

    def submit(self, specs: Sequence[WorkloadSpec]) -> list[str]:
        with self.target.hub(kubeconfig=self.options.kubeconfig) as hub:
            return [hub.submit(s).workload.id for s in specs]

    def workloads(self, ids: Sequence[str]) -> list[Workload]:
        with self.target.hub(kubeconfig=self.options.kubeconfig) as hub:
            return [hub.get(i) for i in ids]

    def wait(
        self,
        ids: Sequence[str],
        done: Callable[[Workload], bool],
        what: str,
        timeout: float | None = None,
    ) -> list[Workload]:
        """Poll the hub until `done` holds for every workload (a hub that is away is
        waited for), or fail naming the states seen."""
        found: list[Workload] = self.until(lambda: self._all(ids, done), what, timeout)
        return found

    def _all(self, ids: Sequence[str], done: Callable[[Workload], bool]) -> list[Workload] | None:
        try:
            found = self.workloads(ids)
        except KindfleetError:
            return None
        return found if all(done(w) for w in found) else None

    def until(self, check: Callable[[], Any], what: str, timeout: float | None = None) -> Any:
        limit = self.options.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise CheckFailed(f"waited {limit:.0f}s for {what}")
            time.sleep(0.2)

    def cancel(self, ids: Sequence[str]) -> None:
        """Leave nothing of the check behind in the queue (best effort)."""
        try:
            with self.target.hub(kubeconfig=self.options.kubeconfig) as hub:
                for workload_id in ids:
                    if not hub.get(workload_id).state.terminal:
                        hub.cancel(workload_id)
        except KindfleetError:
            return

    def runs(self, workloads: Sequence[Workload]) -> list[Run]:
        """Every attempt of these workloads, as the logs on their spokes tell it."""
        found = []
        for w in workloads:
            for attempt in w.attempts:
                try:
                    text = self.target.logs(
                        w.id, generation=attempt.generation, kubeconfig=self.options.kubeconfig
                    )
                except KindfleetError:
                    continue  # never started: no log
                run = parse_ledger(w.id, attempt.generation, attempt.spoke, text)
                if run is not None:
                    found.append(run)
        return found


def parse_ledger(workload: str, generation: int, spoke: str, text: str) -> Run | None:
    times: dict[str, list[float]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "KF":
            times.setdefault(parts[1], []).append(float(parts[2]))
    if "start" not in times:
        return None
    every = [t for ts in times.values() for t in ts]
    return Run(workload, generation, spoke, min(times["start"]), max(every), "end" in times)


def overlaps(runs: Sequence[Run]) -> list[tuple[Run, Run, float]]:
    """Pairs of runs of one workload alive at the same time (by their own ticks), with
    how long they overlapped. A run's span is its start to its last sign of life."""
    found = []
    by_workload: dict[str, list[Run]] = {}
    for run in runs:
        by_workload.setdefault(run.workload, []).append(run)
    for its in by_workload.values():
        for a, b in itertools.combinations(sorted(its, key=lambda r: r.start), 2):
            shared = min(a.last, b.last) - max(a.start, b.start)
            if shared > TICK:  # within one tick is the same instant
                found.append((a, b, shared))
    return found
