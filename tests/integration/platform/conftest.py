"""A real local fleet for the platform's failure drills: the hub and the agents as
processes (started by the local provider exactly as `kindfleet up` does), with a short
loss-to-re-route window so a drill takes seconds, and a ledger the workloads themselves
write to, so tests can see where and when each run really happened."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kindfleet.fleet import Fleet
from kindfleet.fleetspec import from_text
from kindfleet.platform.client import HubClient
from kindfleet.platform.wire import Workload, WorkloadSpec
from kindfleet.providers.local import LocalLayout, LocalProvider, processes

LOST_AFTER = 3.0
FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: drill
provider: local
spokes:
  - name: drill-a
    labels: {pool: cpu}
    capacity: {cpu: 8, memory: 8Gi}
  - name: drill-b
    labels: {pool: cpu}
    capacity: {cpu: 8, memory: 8Gi}
  - name: drill-c
    labels: {pool: cpu}
    capacity: {cpu: 8, memory: 8Gi}
"""

# The workload: note start and end in an append-only ledger, with where it runs; with a
# third argument, a "tick" every that many seconds between them (a sign of life).
LEDGER_SCRIPT = """
import os, sys, time
ledger, seconds = sys.argv[1], float(sys.argv[2])
tick = float(sys.argv[3]) if len(sys.argv) > 3 else seconds
tag = " ".join([os.environ["KINDFLEET_WORKLOAD_ID"], os.environ["KINDFLEET_GENERATION"],
                os.environ["KINDFLEET_OUTPUT_DIR"]])
def note(kind):
    fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, f"{kind} {time.time():.6f} {tag}\\n".encode())
    os.close(fd)
note("start")
end = time.time() + seconds
while time.time() < end - tick:
    time.sleep(tick)
    note("tick")
time.sleep(max(0.0, end - time.time()))
note("end")
"""


@dataclass(frozen=True)
class Run:
    workload: str
    generation: int
    spoke: str
    start: float
    end: float | None  # None: the run never finished (its spoke was killed)
    last: float  # its last sign of life (start, tick or end)


@dataclass
class Drill:
    fleet: Fleet
    provider: LocalProvider
    layout: LocalLayout
    ledger: Path

    def client(self) -> HubClient:
        url = self.layout.hub_url(self.fleet.spec.hub.name)
        assert url is not None
        return HubClient(url, self.layout.read_client_token(), timeout=5)

    def spec(
        self, name: str, seconds: float, *, tick: float | None = None, **extra: object
    ) -> WorkloadSpec:
        ticks = [] if tick is None else [str(tick)]
        command = [sys.executable, "-c", LEDGER_SCRIPT, str(self.ledger), str(seconds), *ticks]
        return WorkloadSpec.model_validate(
            {
                "name": name,
                "command": command,
                "resources": {"cpu": "100m", "memory": "32Mi"},
                **extra,
            }
        )

    def pidfile(self, cluster: str) -> Path:
        return self.layout.pidfile(cluster)

    def kill(self, cluster: str) -> float:
        """kill -9 the hub's or a spoke agent's process; when it happened."""
        assert processes.kill(self.pidfile(cluster)), f"{cluster} was not running"
        return time.time()

    def restart_hub(self) -> None:
        hub = self.fleet.spec.hub
        from kindfleet.providers.base import CreateOptions

        self.provider.create(self.fleet.spec, hub, CreateOptions(wait_seconds=30))

    def runs(self) -> list[Run]:
        starts: dict[tuple[str, int, str], float] = {}
        ends: dict[tuple[str, int, str], float] = {}
        last: dict[tuple[str, int, str], float] = {}
        if not self.ledger.exists():
            return []
        for line in self.ledger.read_text().splitlines():
            kind, at, workload, generation, output_dir = line.split(" ", 4)
            spoke = Path(output_dir).parts[-5]  # <root>/clusters/<spoke>/agent/runs/<key>/outputs
            key = (workload, int(generation), spoke)
            if kind in ("start", "end"):
                (starts if kind == "start" else ends)[key] = float(at)
            last[key] = max(last.get(key, 0.0), float(at))
        return [Run(*key, t, ends.get(key), last[key]) for key, t in starts.items()]

    def wait_for(
        self, ids: list[str], done: Callable[[Workload], bool], timeout: float
    ) -> list[Workload]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.client() as hub:
                    workloads = [hub.get(i) for i in ids]
            except Exception:  # the hub may be restarting
                workloads = []
            if workloads and all(done(w) for w in workloads):
                return workloads
            if time.monotonic() > deadline:
                states = sorted({w.state.value for w in workloads})
                raise AssertionError(f"timed out waiting; states now: {states}")
            time.sleep(0.2)


@pytest.fixture
def drill(tmp_path: Path) -> Iterator[Drill]:
    spec = from_text(FLEET, source="drill")
    provider = LocalProvider(tmp_path / "state", lost_after_seconds=LOST_AFTER)
    fleet = Fleet(spec, provider=provider, state_dir=tmp_path / "state")
    fleet.up(preflight=False, parallel=3)
    try:
        yield Drill(fleet, provider, provider.layout(spec), tmp_path / "ledger")
    finally:
        fleet.down()
