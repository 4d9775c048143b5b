"""Deploy-time facts from what the clusters report (pure): through which node spokes and
this machine reach the hub, and what the orchestrators' egress policy may name.

The hub is a NodePort (30080) on the container network. Spokes dial one hub node's IP
there: an IP, not a name, so the egress NetworkPolicy can name exactly that address. This
machine uses the host port a hub node publishes for 30080 when there is one (the
article's hub does), else the same node IP (reachable from a Linux host).
"""

from __future__ import annotations

from collections.abc import Sequence

from kindfleet.deploy.manifests.objects import HUB_NODE_PORT, is_ip, url_host_port
from kindfleet.errors import UsageError
from kindfleet.fleetspec.internal import Cluster, Node, PortMapping
from kindfleet.providers.base import NodeInfo


def hub_port_mapping(node: Node) -> PortMapping | None:
    for mapping in node.port_mappings:
        if mapping.container_port == HUB_NODE_PORT and mapping.host_port:
            return mapping
    return None


def hub_node(cluster: Cluster) -> Node:
    """The node the hub is reached through: one that publishes the NodePort on the host,
    else a management node (where the hub runs), else a worker, else the control plane."""
    published = [n for n in cluster.nodes if hub_port_mapping(n) is not None]
    management = [n for n in cluster.nodes if n.labels.get("plane") == "management"]
    for group in (published, management, list(cluster.workers), list(cluster.nodes)):
        if group:
            return group[0]
    raise UsageError(f"cluster {cluster.name} has no nodes")


def hub_host(cluster: Cluster, nodes: Sequence[NodeInfo]) -> str | None:
    """The chosen hub node's IP on the container network, as its provider reports it."""
    found = hub_address(cluster, nodes)
    return found[1] if found else None


def hub_address(cluster: Cluster, nodes: Sequence[NodeInfo]) -> tuple[str, str] | None:
    """(node, IP) of the hub node spokes dial: the chosen one, else any with an address."""
    addresses = {n.name: n.address for n in nodes if n.address}
    chosen = hub_node(cluster).name
    if chosen in addresses:
        return chosen, addresses[chosen]
    return next(iter(addresses.items()), None)


def access_url(cluster: Cluster, host: str | None) -> str | None:
    """How this machine reaches the hub: the host port published for the NodePort, else
    the hub node's IP and the NodePort."""
    for node in cluster.nodes:
        mapping = hub_port_mapping(node)
        if mapping is not None:
            listen = mapping.listen_address or "0.0.0.0"
            address = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(listen)
            if address is None:
                address = f"[{listen}]" if ":" in listen else listen
            return f"http://{address}:{mapping.host_port}"
    if host is None:
        return None
    return f"http://{f'[{host}]' if ':' in host else host}:{HUB_NODE_PORT}"


def check_hub_url(url: str) -> str:
    """An explicit hub URL as spokes will dial it; UsageError unless http(s)://host[:port]."""
    if url_host_port(url) is None:
        raise UsageError(
            f"--hub-url {url!r} is not an http(s) URL",
            hint="e.g. --hub-url https://hub.example.com or --hub-url http://10.0.0.7:30080",
        )
    return url.rstrip("/")


def egress_note(url: str) -> str | None:
    """What a person must know when the hub URL's host is a name, not an address."""
    parsed = url_host_port(url)
    if parsed is None or is_ip(parsed[0]):
        return None
    host, port = parsed
    return (
        f"the hub URL's host {host} is a DNS name: a NetworkPolicy ipBlock takes addresses "
        f"only, so the orchestrators may open TCP port {port} to any address (their other "
        "egress stays limited to DNS and their own API server)"
    )
