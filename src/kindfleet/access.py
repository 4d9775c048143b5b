"""Reaching a fleet's platform from outside: the hub's API, and the logs of a run.

Logs stay on the spoke that ran the work (the data boundary): they are read here,
by someone who can reach the spoke (its state directory on the local runtime, its
cluster through kubectl on KIND), never through the hub, which only ever sees status
and telemetry.
"""

from __future__ import annotations

from pathlib import Path

from kindfleet.errors import UsageError
from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.platform.client import HubClient
from kindfleet.platform.wire import Workload
from kindfleet.providers.detect import provider_name
from kindfleet.providers.local import LocalLayout, require_running_hub


def hub_client(spec: FleetSpec, *, timeout: float = 10.0) -> HubClient:
    """A client of the fleet's hub, with the fleet's client token."""
    if provider_name(spec) == "local":
        layout = LocalLayout(spec.name)
        url = require_running_hub(layout, spec)
        return HubClient(url, layout.read_client_token(), timeout=timeout)
    from kindfleet.deploy_state import load_access

    url, token = load_access(spec)
    return HubClient(url, token, timeout=timeout)


def run_dir(spec: FleetSpec, workload: Workload, generation: int | None = None) -> Path:
    """Where the spoke keeps a run's logs and outputs (local runtime)."""
    from kindfleet.platform.agent.executors.base import run_key

    attempt = _attempt(workload, generation)
    if provider_name(spec) != "local":
        raise UsageError(
            "run directories exist on the local runtime only",
            hint=f"on Kubernetes: kubectl logs -n platform-workloads "
            f"-l kindfleet.dev/workload={workload.id} --context {spec.cluster(attempt[1]).context}",
        )
    layout = LocalLayout(spec.name)
    return layout.dir(attempt[1]) / "agent" / "runs" / run_key(workload.id, attempt[0])


def _attempt(workload: Workload, generation: int | None) -> tuple[int, str]:
    attempts = [(a.generation, a.spoke) for a in workload.attempts]
    if not attempts:
        raise UsageError(
            f"workload {workload.id} has not run anywhere yet (state {workload.state})",
            hint=f"see why with `kindfleet explain {workload.id}`",
        )
    if generation is None:
        return attempts[-1]
    for attempt in attempts:
        if attempt[0] == generation:
            return attempt
    raise UsageError(
        f"workload {workload.id} has no attempt {generation}",
        hint=f"attempts: {', '.join(str(g) for g, _ in attempts)}",
    )


def read_log(
    spec: FleetSpec, workload: Workload, *, generation: int | None = None, stream: str = "stdout"
) -> str:
    path = run_dir(spec, workload, generation) / f"{stream}.log"
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        raise UsageError(
            f"no {stream} log for workload {workload.id} at {path}",
            hint="the spoke may not have started it yet, or its state was removed by `down`",
        ) from None
