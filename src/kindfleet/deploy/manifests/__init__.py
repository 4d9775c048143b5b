"""What `kindfleet deploy` applies to each cluster and `kindfleet manifests` prints.

Plain manifests, plus a kustomization per cluster with `--out`, rather than a Helm chart:
they are generated from the fleet file, which already is the single source of truth, so a
second templating layer would only restate it; they apply with nothing but kubectl
(`kubectl apply -k`), read well in review, and drop into a GitOps repository as they are.
"""

from __future__ import annotations

from typing import Any

from kindfleet.deploy.manifests.hub import hub_manifests
from kindfleet.deploy.manifests.objects import (
    CONTROL_NAMESPACE,
    HUB_NAMESPACE,
    WORKLOAD_NAMESPACE,
    DeployFacts,
)
from kindfleet.deploy.manifests.spoke import spoke_manifests
from kindfleet.fleetspec.internal import FleetSpec

__all__ = ["DeployFacts", "components", "kustomization", "render_manifests"]


def render_manifests(
    fleet: FleetSpec, facts: DeployFacts | None = None, cluster: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Manifests by cluster name (hub first): management services on the hub, the
    orchestrator on every spoke."""
    facts = facts or DeployFacts()
    chosen = [fleet.cluster(cluster)] if cluster else list(fleet.clusters)
    return {
        c.name: hub_manifests(fleet, facts) if c.role == "hub" else spoke_manifests(fleet, c, facts)
        for c in chosen
    }


def kustomization(names: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": names,
    }


def components(fleet: FleetSpec) -> dict[str, list[tuple[str, str | None]]]:
    """Where the platform runs in each cluster, for its logs: (namespace, pod selector),
    None where only the namespace's pods and events are of interest (the workloads')."""
    return {
        c.name: [(HUB_NAMESPACE, "app=hub")]
        if c.role == "hub"
        else [(CONTROL_NAMESPACE, "app=orchestrator"), (WORKLOAD_NAMESPACE, None)]
        for c in fleet.clusters
    }
