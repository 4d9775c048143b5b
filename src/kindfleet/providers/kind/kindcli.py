"""What kindfleet says to the `kind` CLI and reads back from it and from KIND's node
containers, as values: every command built with no I/O (tests compare the argv exactly),
and KIND's container names, labels and ports turned into kindfleet's status types.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from kindfleet.exec import Command, cmd
from kindfleet.fleetspec.internal import Cluster, FleetSpec, Registry
from kindfleet.providers.base import FLEET_LABEL, ROLE_LABEL, ClusterStatus, NodeInfo
from kindfleet.providers.kind import docker as dk
from kindfleet.providers.kubectl.parsing import NodeState

KIND = "kind"
CLUSTER_LABEL = "io.x-k8s.kind.cluster"
NODE_ROLE_LABEL = "io.x-k8s.kind.role"
DEFAULT_NETWORK = "kind"
NETWORK_ENV = "KIND_EXPERIMENTAL_DOCKER_NETWORK"
INSTALL_KIND = (
    "install kind v0.33.0: `go install sigs.k8s.io/kind@v0.33.0`, or download "
    "https://kind.sigs.k8s.io/dl/v0.33.0/kind-linux-amd64 to a directory on PATH"
)
ALREADY_EXISTS = "node(s) already exist for a cluster with the name"
PORT_TAKEN = "port is already allocated"  # Docker: a host port bound meanwhile by another
PORT_TRIES = 3  # `kind create` attempts when that happens
API_SERVER_PORT = 6443
DESKTOP_PORT_LABEL = f"desktop.docker.io/ports/{API_SERVER_PORT}/tcp"  # Docker Desktop's own
_VERSION = re.compile(r"\bv?(\d+\.\d+\.\d+\S*)")

# --- commands (pure) -----------------------------------------------------------------


def create_cmd(name: str, config: str, kubeconfig: Path, *, retain: bool = False) -> Command:
    argv = [
        KIND,
        "create",
        "cluster",
        "--name",
        name,
        "--config=-",
        "--kubeconfig",
        str(kubeconfig),
    ]
    if retain:
        argv.append("--retain")
    return cmd(*argv, stdin=config, timeout=900)


def delete_cmd(name: str, kubeconfig: Path) -> Command:
    return cmd(
        KIND, "delete", "cluster", "--name", name, "--kubeconfig", str(kubeconfig), timeout=300
    )


def get_clusters_cmd() -> Command:
    return cmd(KIND, "get", "clusters", timeout=60)


def get_nodes_cmd(name: str) -> Command:
    return cmd(KIND, "get", "nodes", "--name", name, timeout=60)


def get_kubeconfig_cmd(name: str, *, internal: bool = False) -> Command:
    argv = [KIND, "get", "kubeconfig", "--name", name]
    return cmd(*argv, *(["--internal"] if internal else []), timeout=60)


def load_image_cmd(name: str, *images: str) -> Command:
    return cmd(KIND, "load", "docker-image", "--name", name, *images, timeout=900)


def export_logs_cmd(name: str, directory: Path) -> Command:
    return cmd(KIND, "export", "logs", str(directory), "--name", name, timeout=600)


def version_cmd() -> Command:
    return cmd(KIND, "version", timeout=30)


def registry_run_cmd(fleet: FleetSpec, registry: Registry) -> Command:
    """KIND's local-registry recipe, labelled so `down` finds it again."""
    return dk.run_cmd(
        registry.name,
        registry.image,
        labels={FLEET_LABEL: fleet.name, ROLE_LABEL: "registry"},
        publish=[f"{registry.listen_address}:{registry.host_port}:5000"],
        network="bridge",
        restart="always",
    )


def parse_version(text: str) -> str | None:
    """`kind v0.33.0 go1.24.2 linux/amd64` -> `v0.33.0`."""
    match = _VERSION.search(text)
    return f"v{match.group(1)}" if match else None


def context_name(cluster: str) -> str:
    return f"kind-{cluster}"


# --- KIND's containers as kindfleet's status (pure) -----------------------------------


def cluster_status(
    cluster: Cluster,
    *,
    exists: bool,
    ready: bool,
    message: str,
    endpoint: str | None = None,
    kubernetes_version: str | None = None,
    nodes: Sequence[NodeInfo] = (),
    broken: str = "",
    foreign: str = "",
) -> ClusterStatus:
    return ClusterStatus(
        name=cluster.name,
        role=cluster.role,
        exists=exists,
        ready=ready,
        endpoint=endpoint,
        kubernetes_version=kubernetes_version,
        nodes=tuple(nodes),
        message=message,
        context=cluster.context,
        provider="kind",
        broken=broken,
        foreign=foreign,
    )


def load_balancer_name(cluster: str) -> str:
    return f"{cluster}-external-load-balancer"


def expected_containers(cluster: Cluster) -> set[str]:
    """The containers kind makes for the cluster: its nodes, and a load balancer in front
    of more than one control plane."""
    names = {n.name for n in cluster.nodes}
    if len(cluster.control_planes) > 1:
        names.add(load_balancer_name(cluster.name))
    return names


def node_order(container: dk.Container) -> tuple[int, str]:
    role = container.labels.get(NODE_ROLE_LABEL, "")
    rank = {"external-load-balancer": 0, "control-plane": 1, "worker": 2}.get(role, 3)
    return rank, container.name


def api_endpoint(container: dk.Container) -> str | None:
    """The API server's address exactly as kind writes it into the kubeconfig (its docker
    provider's GetAPIServerEndpoint): Docker Desktop's `desktop.docker.io/ports/6443/tcp`
    label when the node has one, else the first binding of 6443/tcp, its HostIp as bound
    (an IPv6 address in brackets)."""
    desktop = container.labels.get(DESKTOP_PORT_LABEL, "")
    if desktop:
        return f"https://{desktop}"
    binding = container.ports.get(f"{API_SERVER_PORT}/tcp")
    if not binding:
        return None
    host, port = binding
    return f"https://{f'[{host}]' if ':' in host else host}:{port}"


def node_info(
    container: dk.Container, state: NodeState | None, memory: int | None, network: str
) -> NodeInfo:
    return NodeInfo(
        name=container.name,
        role=container.labels.get(NODE_ROLE_LABEL, "unknown"),
        ready=state.ready if state else None,
        kubernetes_version=state.kubelet_version if state else None,
        labels=dict(state.labels) if state else {},
        memory_bytes=memory,
        address=container.networks.get(network) or None,
        state=container.state,
        message="" if state is None or state.ready else state.message,
    )
