"""The provider interface: what the fleet facade needs from whatever runs a cluster.

Modelled on KIND's own `pkg/cluster/internal/providers/provider.go`: a handful of verbs
over one cluster at a time, so the fleet facade can run them in parallel, report each
cluster on its own line and clean up after a failure the same way for every provider.
One module per provider (`kind`, `existing`, `local`) implements it; `detect` picks one.

Providers label what they create (KIND: `io.x-k8s.kind.cluster`; kindfleet adds
`dev.kindfleet.fleet` and `dev.kindfleet.role`) and list by label, so no state file can
drift from what really exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from kindfleet.spec.internal import Cluster, FleetSpec

FLEET_LABEL = "dev.kindfleet.fleet"
ROLE_LABEL = "dev.kindfleet.role"


@dataclass(frozen=True)
class Availability:
    """Whether a provider can work here; when not, why and how to fix it."""

    ok: bool
    reason: str = ""
    fix: str = ""
    versions: Mapping[str, str] = field(default_factory=dict)  # tool -> version found


@dataclass(frozen=True)
class NodeInfo:
    name: str
    role: str  # control-plane | worker | external-load-balancer | hub | spoke
    ready: bool | None = None  # None: not known (no API server asked)
    kubernetes_version: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    memory_bytes: int | None = None  # resident memory of the node container / process
    address: str | None = None


@dataclass(frozen=True)
class ClusterStatus:
    name: str
    role: str  # hub | spoke
    exists: bool
    ready: bool
    endpoint: str | None = None  # API server (kind, existing) or hub URL (local)
    kubernetes_version: str | None = None
    nodes: Sequence[NodeInfo] = ()
    message: str = ""


@dataclass(frozen=True)
class CreateOptions:
    """What `up` passes to each cluster's creation."""

    kind_config: Mapping[str, Any] | None = None  # rendered KIND config (kind provider)
    kubeconfig: Path | None = None  # where this cluster's kubeconfig goes while creating
    wait_seconds: float = 300.0
    retain_on_failure: bool = False


@runtime_checkable
class Provider(Protocol):
    name: ClassVar[Literal["kind", "existing", "local"]]

    def availability(self) -> Availability:
        """Cheap check that the tools this provider drives are present and working."""
        ...

    def create(self, fleet: FleetSpec, cluster: Cluster, options: CreateOptions) -> None:
        """Make `cluster` exist and be ready; on failure leave nothing half-made (unless
        `retain_on_failure`) and raise `KindfleetError` with the exact command and output."""
        ...

    def delete(self, fleet: FleetSpec, cluster: str) -> None:
        """Remove every trace of the cluster; a cluster that does not exist is not an error."""
        ...

    def list_clusters(self, fleet: FleetSpec) -> list[str]:
        """Names of this fleet's clusters that exist now, found by label."""
        ...

    def status(self, fleet: FleetSpec, cluster: Cluster) -> ClusterStatus: ...

    def kubeconfig(self, fleet: FleetSpec, cluster: str, *, internal: bool = False) -> str:
        """Kubeconfig text for the cluster; `internal`: reachable from the other clusters."""
        ...

    def load_image(self, fleet: FleetSpec, cluster: str, image: str) -> None: ...

    def nodes(self, fleet: FleetSpec, cluster: str) -> list[NodeInfo]: ...
