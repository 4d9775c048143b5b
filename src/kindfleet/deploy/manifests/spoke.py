"""A spoke's workload orchestration: the orchestrator (the spoke agent with the
Kubernetes executor) in `platform-control`, the work it runs in `platform-workloads`.

Least privilege: the orchestrator gets exactly the calls its Kubernetes executor makes
(tests/unit/deploy/test_rbac.py reads them from the agent's source and compares): Jobs
created, read, listed, watched and deleted, and Pods listed and watched, in the
workloads namespace only; Nodes listed cluster-wide (capacity, GPUs). Nothing to patch,
no logs, no events (`kindfleet logs` reads a run's log with the user's own credentials).
The data boundary is real: workload pods get no egress outside their cluster; the
orchestrator's only egress out of the cluster is the hub's API, plus its own API server
and DNS.
"""

from __future__ import annotations

import copy
from typing import Any

from kindfleet.deploy.manifests import objects as k
from kindfleet.fleetspec.internal import Cluster, FleetSpec

APP = "orchestrator"
LABELS = {
    "app": APP,
    "app.kubernetes.io/name": "kindfleet-orchestrator",
    "app.kubernetes.io/component": "orchestrator",
}


ROLE_RULES = [
    {
        "apiGroups": ["batch"],
        "resources": ["jobs"],
        "verbs": ["create", "get", "list", "watch", "delete"],
    },
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]},
]
NODE_RULES = [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]


def _rbac(cluster: Cluster) -> list[dict[str, Any]]:
    subject = [{"kind": "ServiceAccount", "name": APP, "namespace": k.CONTROL_NAMESPACE}]
    role_name = f"{APP}-workloads"
    node_reader = f"kindfleet-{APP}-nodes"
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": k.meta(APP, k.CONTROL_NAMESPACE),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": k.meta(role_name, k.WORKLOAD_NAMESPACE),
            "rules": copy.deepcopy(ROLE_RULES),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": k.meta(role_name, k.WORKLOAD_NAMESPACE),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
            "subjects": subject,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": k.meta(node_reader),
            "rules": copy.deepcopy(NODE_RULES),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": k.meta(f"{node_reader}-{cluster.name}"),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": node_reader,
            },
            "subjects": subject,
        },
    ]


def _health(*, period: int, failures: int) -> dict[str, Any]:
    return {
        "exec": {"command": ["python", "-m", "kindfleet.platform.health"]},
        "periodSeconds": period,
        "timeoutSeconds": k.PROBE_TIMEOUT_SECONDS,
        "failureThreshold": failures,
    }


def _deployment(cluster: Cluster, facts: k.DeployFacts, hub: str) -> dict[str, Any]:
    labels = ",".join(f"{key}={value}" for key, value in cluster.labels.items())
    args = [
        "--hub", hub,
        "--name", cluster.name,
        "--state-dir", k.STATE_DIR,
        "--bootstrap-token-file", f"{k.SECRETS_DIR}/bootstrap/token",
        "--executor", "kubernetes",
        "--namespace", k.WORKLOAD_NAMESPACE,
        "--job-image", facts.image,  # work that names no image runs on the platform's own
    ]  # fmt: skip
    if labels:
        args += ["--labels", labels]
    # One orchestrator per spoke (Recreate): two would both pull the spoke's assignments.
    spec = k.PlatformPod(
        app=APP,
        namespace=k.CONTROL_NAMESPACE,
        labels=LABELS,
        module="kindfleet.platform.agent",
        args=args,
        state_claim="orchestrator-state",
        secret="orchestrator-bootstrap",
        secret_dir=f"{k.SECRETS_DIR}/bootstrap",
        requests={"cpu": "50m", "memory": "128Mi"},
        probes={
            # the agent marks its heartbeat loop's every turn; the first one ends the startup
            "startupProbe": _health(period=5, failures=36),  # up to 3 min to start
            "livenessProbe": _health(period=20, failures=3),
        },
    )
    return k.platform_deployment(spec, facts)


def _dns_rule() -> dict[str, Any]:
    return {
        "to": [
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                },
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": k.DNS_PORTS,
    }


def _network_policies(
    fleet: FleetSpec, cluster: Cluster, facts: k.DeployFacts
) -> list[dict[str, Any]]:
    hub_cidrs, hub_port = k.hub_egress(fleet, facts)
    api_cidrs = k.egress_cidrs(fleet, facts.api_server_addresses.get(cluster.name))
    kubernetes_service = _first_service_ip(cluster)
    orchestrator = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": k.meta(f"{APP}-egress", k.CONTROL_NAMESPACE),
        "spec": {
            "podSelector": {"matchLabels": {"app": APP}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                _dns_rule(),
                {  # the hub's API: the one egress out of the cluster (telemetry-only)
                    "to": [{"ipBlock": {"cidr": c}} for c in hub_cidrs],
                    "ports": [{"protocol": "TCP", "port": hub_port}],
                },
                {  # its own API server: the kubernetes Service, and its endpoints after DNAT
                    "to": [{"ipBlock": {"cidr": f"{kubernetes_service}/32"}}]
                    + [{"ipBlock": {"cidr": c}} for c in api_cidrs],
                    "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}],
                },
            ],
        },
    }
    workloads = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": k.meta("workloads-stay-in-cluster", k.WORKLOAD_NAMESPACE),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"namespaceSelector": {}}]}],
            "egress": [_dns_rule(), {"to": [{"namespaceSelector": {}}]}],
        },
    }
    return [orchestrator, workloads]


def _first_service_ip(cluster: Cluster) -> str:
    """The `kubernetes` Service takes the first address of the service range."""
    import ipaddress

    first = cluster.networking.service_subnet.split(",")[0]
    return str(next(ipaddress.ip_network(first).hosts()))


def spoke_manifests(
    fleet: FleetSpec, cluster: Cluster, facts: k.DeployFacts
) -> list[dict[str, Any]]:
    hub = k.hub_url(fleet, facts)
    return [
        k.namespace(k.CONTROL_NAMESPACE),
        k.namespace(k.WORKLOAD_NAMESPACE),
        *_rbac(cluster),
        # this spoke's own join token (single use, bound to its name): the orchestrator
        # trades it for a credential kept on its state volume, then never needs it again
        k.secret(
            "orchestrator-bootstrap",
            k.CONTROL_NAMESPACE,
            {"token": facts.join_tokens.get(cluster.name)},
        ),
        k.pvc("orchestrator-state", k.CONTROL_NAMESPACE, "256Mi"),
        _deployment(cluster, facts, hub),
        *_network_policies(fleet, cluster, facts),
    ]
