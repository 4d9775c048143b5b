"""The fleet as the rest of kindfleet sees it: every default applied, every spoke expanded,
every subnet allocated, every node named the way KIND will name its container.

Nothing downstream re-reads the file or re-derives a default, so what `validate` shows
is what `render`, `up` and the platform use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from difflib import get_close_matches
from typing import Any, Literal

from kindfleet import kubelet
from kindfleet.errors import UsageError
from kindfleet.fleetspec.providers import ProviderName, ProviderRules, rules

Role = Literal["control-plane", "worker"]
ClusterRole = Literal["hub", "spoke"]


@dataclass(frozen=True)
class PortMapping:
    container_port: int
    host_port: int | None
    listen_address: str | None
    protocol: str


@dataclass(frozen=True)
class Mount:
    host_path: str
    container_path: str
    read_only: bool
    selinux_relabel: bool
    propagation: str | None


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str


@dataclass(frozen=True)
class Node:
    name: str  # the node container's name, as KIND names it
    role: Role
    image: str
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    gpus: int
    port_mappings: tuple[PortMapping, ...]
    mounts: tuple[Mount, ...]
    raw: Mapping[str, Any]
    source: str  # path of the node group in the fleet file


@dataclass(frozen=True)
class Networking:
    cni: Literal["kindnet", "calico", "none"]
    calico_version: str | None
    pod_subnet: str
    service_subnet: str
    kube_proxy_mode: str | None
    ip_family: Literal["ipv4", "ipv6", "dual"]
    api_server_address: str | None
    api_server_port: int | None
    dns_search: tuple[str, ...] | None


@dataclass(frozen=True)
class Capacity:
    """What a spoke offers to the platform's placement: millicores, bytes, GPUs."""

    cpu_millis: int
    memory_bytes: int
    gpus: int


@dataclass(frozen=True)
class Runs:
    """How the local provider's agent treats its runs: log cap (0: none), log files, and
    whether a run past its memory is OOMKilled."""

    log_max_bytes: int = kubelet.LOG_MAX_BYTES
    log_max_files: int = kubelet.LOG_MAX_FILES
    memory_limits: bool = True


@dataclass(frozen=True)
class Cluster:
    name: str
    role: ClusterRole
    index: int  # 0 for the hub, 1.. for spokes
    kubernetes_version: str  # v1.31.2
    node_image: str
    nodes: tuple[Node, ...]
    networking: Networking
    labels: Mapping[str, str]  # cluster labels: what placement selectors match
    capacity: Capacity
    context: str  # kubeconfig context
    raw: Mapping[str, Any]
    source: str
    runs: Runs = Runs()

    @property
    def gpus(self) -> int:
        return sum(n.gpus for n in self.nodes)

    @property
    def control_planes(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.role == "control-plane")

    @property
    def workers(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.role == "worker")


@dataclass(frozen=True)
class Registry:
    name: str
    host_port: int
    listen_address: str
    image: str

    @property
    def host_endpoint(self) -> str:
        """What `docker push` on the host uses."""
        return f"localhost:{self.host_port}"

    @property
    def internal_endpoint(self) -> str:
        """What containerd inside a node uses: the container's name on the kind network."""
        return f"{self.name}:5000"


@dataclass(frozen=True)
class FleetSpec:
    name: str
    provider: ProviderName
    kind_version: str
    clusters: tuple[Cluster, ...]
    registry: Registry | None
    container_subnets: tuple[str, ...]
    source: str | None = None
    warnings: tuple[str, ...] = field(default=())
    # How values were read, when not as written (a relative mount path made absolute).
    notes: tuple[str, ...] = field(default=())

    @property
    def hub(self) -> Cluster:
        return self.clusters[0]

    @property
    def rules(self) -> ProviderRules:
        """What the fleet's provider means for it (defaults, registry, Kubernetes or not)."""
        return rules(self.provider)

    @property
    def spokes(self) -> tuple[Cluster, ...]:
        return self.clusters[1:]

    def cluster(self, name: str) -> Cluster:
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        names = [c.name for c in self.clusters]
        close = get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"clusters: {', '.join(names)}"
        raise UsageError(f"fleet {self.name!r} has no cluster {name!r}", hint=hint)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for `-o json|yaml`), with each cluster's GPU count spelled out."""
        data = asdict(self)
        for cluster, out in zip(self.clusters, data["clusters"], strict=True):
            out["gpus"] = cluster.gpus
        return data
