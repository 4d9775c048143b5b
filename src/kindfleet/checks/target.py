"""What the suites need of a fleet, as a protocol `Fleet` satisfies: its spec, its hub,
run logs read on the spokes, and faults. The suites never import the facade above them."""

from __future__ import annotations

from typing import Any, Protocol

from kindfleet.faults import FaultRecord
from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.platform.client import HubClient
from kindfleet.providers.base import ProbesSpokes


class Target(Protocol):
    spec: FleetSpec

    def hub(self, *, timeout: float = 10.0, kubeconfig: Any = None) -> HubClient: ...

    def logs(
        self,
        workload: str,
        *,
        generation: int | None = None,
        stream: str = "stdout",
        kubeconfig: Any = None,
    ) -> str: ...

    def fault(
        self,
        action: str,
        cluster: str,
        *,
        duration: float | None = None,
        latency_ms: int = 200,
        loss_percent: float = 0.0,
        kubeconfig: Any = None,
    ) -> FaultRecord: ...

    def fault_refusal(self, action: str, cluster: str, *, kubeconfig: Any = None) -> str | None: ...

    def clear_faults(self, ids: Any = None, *, kubeconfig: Any = None) -> list[FaultRecord]: ...

    def probes(self, *, kubeconfig: Any = None) -> ProbesSpokes | None: ...
