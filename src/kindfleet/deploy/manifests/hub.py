"""The hub cluster's management services: the hub API with its store and client token.

The hub is one replica with `Recreate`: its SQLite store lives on a ReadWriteOnce volume
and two writers would corrupt it (point the store at PostgreSQL to scale out). Its
Service is a NodePort so spokes in other clusters reach it over the container network;
the hub itself never dials a spoke, so it needs no egress beyond DNS.
"""

from __future__ import annotations

from typing import Any

from kindfleet.deploy.manifests import objects as k
from kindfleet.fleetspec.internal import Cluster, FleetSpec

APP = "hub"
LABELS = {
    "app": APP,
    "app.kubernetes.io/name": "kindfleet-hub",
    "app.kubernetes.io/component": "hub",
}


def _http(path: str, *, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": k.PROBE_TIMEOUT_SECONDS,
        "failureThreshold": failures,
    }


def _deployment(cluster: Cluster, facts: k.DeployFacts) -> dict[str, Any]:
    args = [
        "--host", "0.0.0.0",
        "--port", str(k.HUB_PORT),
        "--store", f"sqlite:///{k.STATE_DIR}/hub.db",
        "--client-token-file", f"{k.SECRETS_DIR}/tokens/client",
    ]  # fmt: skip
    pod: dict[str, Any] = {"automountServiceAccountToken": False}
    selector = k.management_selector(cluster)
    if selector:
        pod["nodeSelector"] = selector
    spec = k.PlatformPod(
        app=APP,
        namespace=k.HUB_NAMESPACE,
        labels=LABELS,
        module="kindfleet.platform.hub",
        args=args,
        state_claim="hub-data",
        secret="hub-tokens",
        secret_dir=f"{k.SECRETS_DIR}/tokens",
        requests={"cpu": "100m", "memory": "128Mi"},
        probes={
            "ports": [{"name": "http", "containerPort": k.HUB_PORT, "protocol": "TCP"}],
            "startupProbe": _http("/healthz", period=2, failures=60),  # up to 2 min to start
            "livenessProbe": _http("/healthz", period=10, failures=3),
            "readinessProbe": _http("/readyz", period=5, failures=3),
        },
        pod=pod,
    )
    return k.platform_deployment(spec, facts)


def _service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": k.meta(APP, k.HUB_NAMESPACE, **LABELS),
        "spec": {
            "type": "NodePort",
            "selector": {"app": APP},
            "ports": [
                {
                    "name": "http",
                    "port": k.HUB_PORT,
                    "targetPort": "http",
                    "nodePort": k.HUB_NODE_PORT,
                    "protocol": "TCP",
                }
            ],
        },
    }


def _network_policy() -> dict[str, Any]:
    """Anyone may call the hub's API port (spokes come from other clusters); the hub
    itself only needs DNS: it never opens a connection to a spoke."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": k.meta("hub", k.HUB_NAMESPACE),
        "spec": {
            "podSelector": {"matchLabels": {"app": APP}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"ports": [{"protocol": "TCP", "port": k.HUB_PORT}]}],
            "egress": [{"ports": k.DNS_PORTS}],
        },
    }


def hub_manifests(fleet: FleetSpec, facts: k.DeployFacts) -> list[dict[str, Any]]:
    return [
        k.namespace(k.HUB_NAMESPACE, plane="management"),
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": k.meta(APP, k.HUB_NAMESPACE),
            "automountServiceAccountToken": False,
        },
        # the client token only: spokes join with join tokens minted per spoke (no
        # fleet-wide token, whose names would each wait for an operator's approval)
        k.secret("hub-tokens", k.HUB_NAMESPACE, {"client": facts.client_token}),
        k.pvc("hub-data", k.HUB_NAMESPACE, "1Gi"),
        _deployment(fleet.hub, facts),
        _service(),
        _network_policy(),
    ]
