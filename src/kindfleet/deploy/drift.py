"""Has the hub moved since the platform was deployed? Spokes dial the hub node's IP on
the container network, written into their orchestrator's `--hub` argument and allowed by
their egress NetworkPolicy at deploy time. A Docker restart can give that node another
address; the spokes then dial nothing and nobody says why. `up` and `status` compare
what deploy recorded with the address the node has now, and `kindfleet rewire` (or
`deploy`) points the spokes at the new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from kindfleet.deploy.manifests.objects import HUB_NODE_PORT
from kindfleet.deploy.state import load_deployed
from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.providers.base import ClusterStatus


def hub_moved(
    spec: FleetSpec, statuses: Mapping[str, ClusterStatus], root: Path | None = None
) -> str | None:
    """What to tell the user when the hub node's address is not the deployed one."""
    deployed = load_deployed(spec, root)
    hub = statuses.get(spec.hub.name)
    if deployed is None or not deployed.hub_node or not deployed.hub_host or hub is None:
        return None
    now = {n.name: n.address for n in hub.nodes}.get(deployed.hub_node)
    if not now or now == deployed.hub_host:
        return None
    source = spec.source or "FILE"
    return (
        f"the hub node {deployed.hub_node} is at {now} now, not at {deployed.hub_host} as "
        f"when the platform was deployed: the spokes still dial "
        f"http://{deployed.hub_host}:{HUB_NODE_PORT}, which their NetworkPolicy alone "
        f"allows; `kindfleet rewire -f {source}` points them at {now}"
    )
