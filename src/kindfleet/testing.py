"""A testing kit: a fleet brought up for a test suite, and the platform driven from it.

The same Python API the CLI uses, packaged for tests (as `kopf.testing` is for
operators). The pytest plugin (`kindfleet.pytest_plugin`) builds its fixtures on these.

    with fleet_up("examples/local.yaml", state_dir=tmp) as running:
        with running.hub() as hub:
            done = submit_and_wait(hub, {"name": "hi", "command": ["true"]})
            assert done.state == "Succeeded"

Kubeconfigs go to a file of the suite's own (`kubeconfig=`), never the user's.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kindfleet.errors import KindfleetError, UsageError
from kindfleet.fleet import Fleet
from kindfleet.platform.client import HubClient
from kindfleet.platform.wire import Workload, WorkloadSpec, WorkloadState


@dataclass
class RunningFleet:
    fleet: Fleet
    kubeconfig: Path | None

    def hub(self, *, timeout: float = 10.0) -> HubClient:
        """A client of the fleet's hub (local runtime, or a deployed platform)."""
        return self.fleet.hub(timeout=timeout)

    def context(self, cluster: str) -> str:
        return self.fleet.spec.cluster(cluster).context


@contextmanager
def fleet_up(
    source: str | Path,
    *,
    provider: str | None = None,
    kubeconfig: Path | None = None,
    state_dir: Path | None = None,
    keep: bool = False,
    parallel: int = 4,
    wait: float = 300.0,
) -> Iterator[RunningFleet]:
    """Bring the fleet of `source` (a path, or fleet YAML text) up; take it down afterwards
    unless `keep` (then the next run finds it up: `up` keeps what is healthy). An `up` that
    fails takes down what it brought up too (unless `keep`): `kindfleet up` keeps the
    clusters that came up for the next try, but a test session that failed to start would
    leave them running (seen: a hub left running for 40 minutes after a failed session).
    A fleet that was up already (a developer's `kindfleet up`, an enclosing `fleet_up` of
    the same file) is used as it is and left up: it is not this block's to take down (it
    was, and the developer's fleet went with the test)."""
    fleet = load(source, provider=provider, state_dir=state_dir)
    try:
        ours = not keep and not fleet.provider(kubeconfig).list_clusters(fleet.spec)
    except KindfleetError:  # kind or Docker missing, say: `up` says so, with its fixes
        ours = not keep
    bring_up(fleet, kubeconfig=kubeconfig, keep=not ours, parallel=parallel, wait=wait)
    try:
        yield RunningFleet(fleet, kubeconfig)
    finally:
        if ours:
            fleet.down(kubeconfig=kubeconfig)


def load(
    source: str | Path, *, provider: str | None = None, state_dir: Path | None = None
) -> Fleet:
    """The fleet of `source`: a fleet file's path, or fleet YAML text (more than one line).
    A path that is not a file is said so (a typo read as YAML was "not a valid fleet file",
    and a missing `Path` a raw FileNotFoundError)."""
    if _is_path(source):
        return Fleet.from_path(source, provider=provider, state_dir=state_dir)
    return Fleet.from_text(str(source), provider=provider, state_dir=state_dir)


def bring_up(
    fleet: Fleet,
    *,
    kubeconfig: Path | None = None,
    keep: bool = False,
    parallel: int = 4,
    wait: float = 300.0,
) -> None:
    """`fleet.up`, for a suite: contexts only in `kubeconfig`, the current context left
    alone, and what a failed `up` brought up taken down again (unless `keep`)."""
    try:
        fleet.up(kubeconfig=kubeconfig, parallel=parallel, wait=wait, switch_context=False)
    except BaseException:
        if not keep:
            with contextlib.suppress(Exception):  # the up's own error is the one to see
                fleet.down(kubeconfig=kubeconfig)
        raise


def _is_path(source: str | Path) -> bool:
    return isinstance(source, Path) or "\n" not in source.strip()


def submit_and_wait(
    hub: HubClient,
    spec: WorkloadSpec | Mapping[str, Any],
    *,
    timeout: float = 60.0,
    poll: float = 0.2,
) -> Workload:
    """Submit one workload and return it once it is in a final state."""
    workload = hub.submit(spec).workload
    return wait_for(hub, workload.id, timeout=timeout, poll=poll)


def wait_for(
    hub: HubClient,
    workload: str,
    *,
    states: frozenset[WorkloadState] | None = None,
    timeout: float = 60.0,
    poll: float = 0.2,
) -> Workload:
    """The workload once it reaches one of `states` (default: any final state); a
    KindfleetError once `timeout` has passed (never a `poll` later)."""
    if not poll > 0:  # NaN too
        raise UsageError(f"poll must be more than 0 seconds, not {poll}", hint="e.g. poll=0.2")
    deadline = time.monotonic() + timeout
    while True:
        current = hub.get(workload)
        if (current.state in states) if states else current.state.terminal:
            return current
        left = deadline - time.monotonic()
        if left <= 0:
            raise KindfleetError(
                f"workload {workload} is still {current.state.value} after {timeout:.0f}s",
                hint=f"ask why: kindfleet explain {workload}",
            )
        time.sleep(min(poll, left))
