"""Building blocks shared by the hub's and the spokes' manifests, and the deploy-time
facts both depend on, so that names, labels and security settings are decided once."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kindfleet.fleetspec.internal import Cluster, FleetSpec

HUB_NAMESPACE = "platform-management"
CONTROL_NAMESPACE = "platform-control"
WORKLOAD_NAMESPACE = "platform-workloads"
HUB_PORT = 8080
HUB_NODE_PORT = 30080
STATE_DIR = "/var/lib/kindfleet"
SECRETS_DIR = "/etc/kindfleet"
REDACTED = "<redacted: kindfleet deploy fills this in>"

IMAGE_ID_ANNOTATION = "kindfleet.dev/image-id"
ANY_ADDRESS = ("0.0.0.0/0", "::/0")

MANAGED_BY = {"app.kubernetes.io/managed-by": "kindfleet", "app.kubernetes.io/part-of": "kindfleet"}
DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
USER_ID = 10001
# Probes: starting Python on a busy node can take seconds, so no probe has kubelet's 1 s
# default timeout, and a startup probe holds liveness off until the process first answers.
PROBE_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class DeployFacts:
    """What only deploy time knows; offline rendering uses the conservative defaults.

    `hub_address`: how spokes reach the hub over the container network (the hub node's
    IP and NodePort). `api_server_addresses`: each cluster's control-plane node IPs, for
    the orchestrator's egress to its own API server. Unknown addresses fall back to the
    fleet's container subnets, which is wider than needed; deploy narrows them.
    `hub_url`: how spokes reach the hub when deploy is told (clusters kindfleet does not
    run); it wins over `hub_host`. `image_id`: the image's content ID, written on the pod
    templates so that a rebuilt image under the same tag rolls the pods. `join_tokens`:
    the join token deploy minted for each spoke through the hub once it answered (none
    offline, nor in a dry run: their Secrets then hold a placeholder).
    """

    image: str = "kindfleet/platform:dev"
    image_pull_policy: str = "IfNotPresent"
    hub_host: str | None = None  # IP of a hub node on the container network
    hub_url: str | None = None  # explicit: http(s)://host[:port] as the spokes dial it
    image_id: str | None = None
    api_server_addresses: Mapping[str, Sequence[str]] = field(default_factory=dict)
    client_token: str | None = None
    join_tokens: Mapping[str, str] = field(default_factory=dict)  # spoke -> its join token


def meta(name: str, namespace: str | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**MANAGED_BY, **labels}}
    if namespace:
        meta["namespace"] = namespace
    return meta


# Every platform namespace admits only pods that meet the restricted Pod Security Standard
# (the platform's pods and the Jobs the orchestrators create all do): enforced, and said
# to whoever applies something that would not be admitted.
POD_SECURITY = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")
}


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta(name, **POD_SECURITY, **labels),
    }


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
    """The hub's API as every spoke dials it: the URL deploy was given, else the hub's
    NodePort on the container network."""
    return facts.hub_url or f"http://{hub_host(fleet, facts)}:{HUB_NODE_PORT}"


_URL = re.compile(
    r"^(?P<scheme>https?)://(?P<host>\[[^\]/\s]+\]|[^/:?#\[\]\s]+)(?::(?P<port>\d+))?(?:[/?#]|$)"
)


def url_host_port(url: str) -> tuple[str, int] | None:
    """(host, port) of an http(s) URL (brackets of an IPv6 host removed), or None.

    A regular expression rather than urllib.parse: the pure core imports no urllib.
    """
    match = _URL.match(url)
    if not match:
        return None
    scheme, host, port = match.group("scheme"), match.group("host"), match.group("port")
    return host.strip("[]"), int(port) if port else (443 if scheme == "https" else 80)


def is_ip(host: str | None) -> bool:
    if not host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def hub_egress(fleet: FleetSpec, facts: DeployFacts) -> tuple[list[str], int]:
    """Where an orchestrator may open connections to the hub: (CIDRs, TCP port).

    An explicit URL whose host is a DNS name cannot be an ipBlock (NetworkPolicy has no
    names, and the name's addresses may change): the hub's port is then allowed to any
    address, and deploy says so.
    """
    if facts.hub_url:
        parsed = url_host_port(facts.hub_url)
        if parsed is None:
            return list(ANY_ADDRESS), HUB_NODE_PORT
        host, port = parsed
        return (egress_cidrs(fleet, [host]) if is_ip(host) else list(ANY_ADDRESS)), port
    node = facts.hub_host
    return egress_cidrs(fleet, [node] if node and is_ip(node) else None), HUB_NODE_PORT


def pod_metadata(labels: Mapping[str, str], facts: DeployFacts) -> dict[str, Any]:
    meta: dict[str, Any] = {"labels": {**MANAGED_BY, **labels}}
    if facts.image_id:
        meta["annotations"] = {IMAGE_ID_ANNOTATION: facts.image_id}
    return meta


def egress_cidrs(fleet: FleetSpec, addresses: Sequence[str] | None) -> list[str]:
    if addresses:
        return [f"{a}/32" if ":" not in a else f"{a}/128" for a in addresses]
    return list(fleet.container_subnets)


def management_selector(cluster: Cluster) -> dict[str, str]:
    """Pin the hub to nodes labelled plane=management when the hub has any (the article)."""
    planes = {n.labels.get("plane") for n in cluster.nodes}
    return {"plane": "management"} if "management" in planes else {}


@dataclass(frozen=True)
class PlatformPod:
    """One platform process (hub or orchestrator) as a single-replica Deployment.

    Both run the same image as `python -m <module>`, non-root, on a read-only root with a
    writable /tmp, keep their state on a ReadWriteOnce claim (hence `Recreate`: two
    replicas would share one SQLite file, or both pull one spoke's work) and read their
    tokens from a Secret mounted read-only.
    """

    app: str
    namespace: str
    labels: Mapping[str, str]
    module: str
    args: Sequence[str]
    state_claim: str
    secret: str
    secret_dir: str
    requests: Mapping[str, str]
    probes: Mapping[str, Any] = field(default_factory=dict)  # ports, liveness, readiness
    pod: Mapping[str, Any] = field(default_factory=dict)  # extra pod spec fields


def platform_deployment(spec: PlatformPod, facts: DeployFacts) -> dict[str, Any]:
    container = {
        "name": spec.app,
        "image": facts.image,
        "imagePullPolicy": facts.image_pull_policy,
        "command": ["python", "-m", spec.module],
        "args": list(spec.args),
        **spec.probes,
        "resources": {"requests": dict(spec.requests), "limits": {"memory": "256Mi"}},
        "securityContext": security(),
        "volumeMounts": [
            {"name": "state", "mountPath": STATE_DIR},
            {"name": "secret", "mountPath": spec.secret_dir, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    pod_spec = {
        "serviceAccountName": spec.app,
        **spec.pod,
        "securityContext": {"fsGroup": USER_ID},
        "containers": [container],
        "volumes": [
            {"name": "state", "persistentVolumeClaim": {"claimName": spec.state_claim}},
            {"name": "secret", "secret": {"secretName": spec.secret, "defaultMode": 0o440}},
            {"name": "tmp", "emptyDir": {}},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(spec.app, spec.namespace, **spec.labels),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app": spec.app}},
            "template": {"metadata": pod_metadata(spec.labels, facts), "spec": pod_spec},
        },
    }
