"""The demo as a sequence: bring up a local fleet, submit a mix of work, follow it until
every workload is done, sum up where everything went, tear the fleet down.

It drives the same Python API and processes a user would (Fleet.up, the hub's HTTP API,
Fleet.down); only the presentation is left to a `View`, so the CLI can draw it live and
a test can check what happened.
"""

from __future__ import annotations

import contextlib
import shlex
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kindfleet.demo.workloads import FLEET, mix
from kindfleet.fleet import Fleet
from kindfleet.fleetspec import from_text
from kindfleet.fleetspec.internal import Cluster
from kindfleet.platform.client import HubClient
from kindfleet.platform.wire import BatchItem, Explanation, TelemetrySeries, Workload, WorkloadState
from kindfleet.providers.local import LocalLayout, LocalProvider
from kindfleet.units import format_cpu, format_memory


class View(Protocol):
    def step(self, message: str) -> None: ...

    def progress(
        self, workloads: Sequence[Workload], latest: dict[str, dict[str, float]]
    ) -> None: ...


@dataclass
class DemoResult:
    workloads: list[Workload] = field(default_factory=list)
    latest: dict[str, dict[str, float]] = field(default_factory=dict)  # workload -> metrics
    explanations: dict[str, Explanation] = field(default_factory=dict)
    seconds: float = 0.0
    submitted: int = 0

    @property
    def by_state(self) -> Counter[str]:
        return Counter(w.state.value for w in self.workloads)

    @property
    def lost(self) -> int:
        """Accepted but not in a final state when the demo ended: must be 0."""
        return self.submitted - sum(1 for w in self.workloads if w.state.terminal)


def _offer(cluster: Cluster) -> str:
    cap = cluster.capacity
    gpus = f", {cap.gpus} GPUs" if cap.gpus else ""
    return f"{format_cpu(cap.cpu_millis)} cpu, {format_memory(cap.memory_bytes)}{gpus}"


def _latest_metrics(series: Sequence[TelemetrySeries]) -> dict[str, dict[str, float]]:
    latest: dict[str, dict[str, float]] = {}
    for s in series:
        for point in s.points:
            if point.workload:
                latest.setdefault(point.workload, {}).update(point.metrics)
    return latest


def run_demo(
    view: View,
    *,
    name: str = "demo",
    state_dir: Path | None = None,
    timeout: float = 25.0,
    scale: int = 1,
    keep: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> DemoResult:
    started = clock()
    root = state_dir or Path(tempfile.mkdtemp(prefix="kindfleet-demo-"))
    text = FLEET.format(name=name)
    spec = from_text(text, source="demo fleet")
    provider = LocalProvider(root, lost_after_seconds=10)
    # All of it in `root`, what kindfleet remembers of the fleet (its lock) included: two
    # demos at once on one machine are two fleets named alike, neither waiting for the other.
    fleet = Fleet(spec, provider=provider, state_dir=root)
    result = DemoResult()
    view.step(
        f"starting a local fleet: hub + {len(spec.spokes)} spokes as processes "
        f"(not Kubernetes), state in {root}"
    )
    try:  # from the first process started: a Ctrl-C while the fleet comes up leaves none
        fleet.up(preflight=False, parallel=3, progress=lambda event: None)
        layout = LocalLayout(spec.name, root)
        url = layout.hub_url(spec.hub.name)
        assert url is not None
        view.step(
            f"hub at {url}; spokes registered: "
            + ", ".join(f"{c.name} ({_offer(c)})" for c in spec.spokes)
        )
        view.step(
            f"dashboard at {url.rstrip('/')}/ui/ (log in with the token in {layout.client_token})"
        )
        with HubClient(url, layout.read_client_token()) as hub:
            _submit_and_follow(hub, view, result, timeout=timeout, scale=scale, clock=clock)
    finally:
        if keep:
            _left_running(view, root, text)
        else:
            _tear_down(view, fleet, root if state_dir is None else None)
    result.seconds = clock() - started
    return result


def _left_running(view: View, root: Path, text: str) -> None:
    """--keep: the fleet stays, as a fleet file the other commands take (how to reach it,
    and how to end it, said)."""
    path = root / "fleet.yaml"
    path.write_text(text, encoding="utf-8")
    env = f"KINDFLEET_STATE_DIR={shlex.quote(str(root))}"
    view.step(
        f"left running (--keep): `{env} kindfleet workloads -f {shlex.quote(str(path))}`; "
        "`down` in its place removes it"
    )


def _tear_down(view: View, fleet: Fleet, own_dir: Path | None) -> None:
    """The fleet goes even when the view cannot say so (its output closed: `| head`);
    then the directory the demo made for it, emptied by `down`."""
    try:
        view.step("tearing the fleet down")
    finally:
        fleet.down()
        if own_dir is not None:
            with contextlib.suppress(OSError):
                own_dir.rmdir()


def _submit_and_follow(
    hub: HubClient,
    view: View,
    result: DemoResult,
    *,
    timeout: float,
    scale: int,
    clock: Callable[[], float],
) -> None:
    specs = mix(scale=scale)
    run = uuid.uuid4().hex[:8]
    submitted = hub.submit_batch(
        [BatchItem(idempotency_key=f"demo-{run}-{i}", spec=s) for i, s in enumerate(specs)]
    )
    ids = [r.workload.id for r in submitted]
    result.submitted = len(ids)
    view.step(
        f"submitted {len(ids)} workloads: GPU training, CPU preprocessing, "
        "two flaky jobs with retries, one that needs 8 GPUs, one that may go anywhere"
    )
    deadline = clock() + timeout
    while True:
        workloads = [w for w in hub.list_workloads(limit=500).items if w.id in set(ids)]
        result.workloads = sorted(workloads, key=lambda w: ids.index(w.id))
        result.latest = _latest_metrics(hub.telemetry(limit=5000))
        view.progress(result.workloads, result.latest)
        for w in result.workloads:  # the last answer before it left the queue
            if w.state == WorkloadState.PENDING:
                answer = hub.explain(w.id)  # it may have left the queue since the listing
                if answer.state == WorkloadState.PENDING:
                    result.explanations[w.id] = answer
        if all(w.state.terminal for w in result.workloads) or clock() > deadline:
            break
        time.sleep(0.4)
