"""Building blocks shared by the hub's and the spokes' manifests, and the deploy-time
facts both depend on, so that names, labels and security settings are decided once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kindfleet.spec.internal import Cluster, FleetSpec

HUB_NAMESPACE = "platform-management"
CONTROL_NAMESPACE = "platform-control"
WORKLOAD_NAMESPACE = "platform-workloads"
HUB_PORT = 8080
HUB_NODE_PORT = 30080
STATE_DIR = "/var/lib/kindfleet"
SECRETS_DIR = "/etc/kindfleet"
REDACTED = "<redacted: kindfleet deploy fills this in>"

MANAGED_BY = {"app.kubernetes.io/managed-by": "kindfleet", "app.kubernetes.io/part-of": "kindfleet"}
DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
USER_ID = 10001


@dataclass(frozen=True)
class DeployFacts:
    """What only deploy time knows; offline rendering uses the conservative defaults.

    `hub_address`: how spokes reach the hub over the container network (the hub node's
    IP and NodePort). `api_server_addresses`: each cluster's control-plane node IPs, for
    the orchestrator's egress to its own API server. Unknown addresses fall back to the
    fleet's container subnets, which is wider than needed; deploy narrows them.
    """

    image: str = "kindfleet/platform:dev"
    image_pull_policy: str = "IfNotPresent"
    hub_host: str | None = None  # IP of a hub node on the container network
    api_server_addresses: Mapping[str, Sequence[str]] = field(default_factory=dict)
    client_token: str | None = None
    bootstrap_token: str | None = None


def meta(name: str, namespace: str | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**MANAGED_BY, **labels}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(name, **labels)}


def secret(name: str, namespace: str, data: Mapping[str, str | None]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta(name, namespace),
        "type": "Opaque",
        "stringData": {k: v if v is not None else REDACTED for k, v in data.items()},
    }


def security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": USER_ID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pvc(name: str, namespace: str, size: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta(name, namespace),
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    }


def hub_host(fleet: FleetSpec, facts: DeployFacts) -> str:
    # A KIND node container's name resolves on the kind network; deploy pins the IP.
    return facts.hub_host or f"{fleet.hub.name}-control-plane"


def hub_url(fleet: FleetSpec, facts: DeployFacts) -> str:
    """The hub's API as every spoke dials it: the hub's NodePort on the container network."""
    return f"http://{hub_host(fleet, facts)}:{HUB_NODE_PORT}"


def egress_cidrs(fleet: FleetSpec, addresses: Sequence[str] | None) -> list[str]:
    if addresses:
        return [f"{a}/32" if ":" not in a else f"{a}/128" for a in addresses]
    return list(fleet.container_subnets)


def management_selector(cluster: Cluster) -> dict[str, str]:
    """Pin the hub to nodes labelled plane=management when the hub has any (the article)."""
    planes = {n.labels.get("plane") for n in cluster.nodes}
    return {"plane": "management"} if "management" in planes else {}
