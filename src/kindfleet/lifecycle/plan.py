"""What `up` will do with each cluster, decided from what exists (pure).

A cluster that does not exist is created. One that exists and is healthy is kept (its
registry wiring and kubeconfig entry are refreshed, nothing else). One that exists but is
not healthy is repaired: the steps after creation run again; unless it is broken beyond
that (node containers gone, an API server never set up: a `kind create` killed half-way,
a node removed by hand), then it is made anew. Where a spoke is ready only in its hub's
eyes (the local runtime) and the hub itself is not healthy, the spoke's state says nothing
of the spoke: it is left running and waited for until the restarted hub hears it again
("rejoin"). Clusters of a provider that does not own them are only checked. When the
provider needs the hub first (the local provider: spokes need its address), the hub gets a
wave of its own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from kindfleet.fleetspec.internal import Cluster
from kindfleet.lifecycle.results import Action


@dataclass(frozen=True)
class ClusterPlan:
    cluster: Cluster
    action: Action
    reason: str = ""


def plan_up(
    clusters: Sequence[Cluster],
    *,
    existing: Collection[str],
    healthy: Mapping[str, bool],
    owns_clusters: bool = True,
    broken: Mapping[str, str] | None = None,
    ready_through_hub: bool = False,
) -> list[ClusterPlan]:
    plans = []
    hub_down = any(c.role == "hub" and not healthy.get(c.name, False) for c in clusters)
    for cluster in clusters:
        why = (broken or {}).get(cluster.name, "")
        if not owns_clusters:
            plans.append(ClusterPlan(cluster, "check"))
        elif cluster.name not in existing:
            plans.append(ClusterPlan(cluster, "create"))
        elif healthy.get(cluster.name, False):
            plans.append(ClusterPlan(cluster, "keep", "exists and is ready"))
        elif why:
            plans.append(ClusterPlan(cluster, "recreate", f"exists but {why}: made anew"))
        elif ready_through_hub and hub_down and cluster.role != "hub":
            reason = "running, unheard while the hub was down: left running, waiting for the hub"
            plans.append(ClusterPlan(cluster, "rejoin", reason))
        else:
            plans.append(ClusterPlan(cluster, "repair", "exists but is not ready"))
    return plans


def waves(plans: Sequence[ClusterPlan], *, hub_first: bool) -> list[list[ClusterPlan]]:
    """Groups run one after the other; the clusters of a group run in parallel."""
    if not hub_first:
        return [list(plans)] if plans else []
    hub = [p for p in plans if p.cluster.role == "hub"]
    rest = [p for p in plans if p.cluster.role != "hub"]
    return [group for group in (hub, rest) if group]
