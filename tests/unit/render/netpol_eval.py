"""A small evaluator of NetworkPolicy egress semantics (Kubernetes' documented rules:
policies are additive allow-lists; a pod selected by any Egress policy may only send what
some rule allows), so tests can ask the question that matters: may this pod reach that
address? Covers what our manifests use: ipBlock (with except), namespaceSelector,
podSelector, ports.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Peer:
    """A destination: an IP outside the cluster, or a pod inside it."""

    ip: str
    port: int
    protocol: str = "TCP"
    pod_namespace: str | None = None  # set when the destination is a pod of this cluster
    pod_labels: dict[str, str] = field(default_factory=dict)
    namespace_labels: dict[str, str] = field(default_factory=dict)


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = selector.get("matchLabels", {})
    return all(labels.get(k) == v for k, v in wanted.items())


def _peer_ok(rule_peer: dict[str, Any], dest: Peer) -> bool:
    if "ipBlock" in rule_peer:
        block = rule_peer["ipBlock"]
        ip = ipaddress.ip_address(dest.ip)
        inside = ip in ipaddress.ip_network(block["cidr"])
        excluded = any(ip in ipaddress.ip_network(e) for e in block.get("except", []))
        return inside and not excluded
    if dest.pod_namespace is None:
        return False  # selectors only ever match pods of this cluster
    ns_ok = (
        _matches(rule_peer.get("namespaceSelector", {}), dest.namespace_labels)
        if ("namespaceSelector" in rule_peer)
        else True
    )
    pod_ok = _matches(rule_peer.get("podSelector", {}), dest.pod_labels)
    return ns_ok and pod_ok


def _ports_ok(ports: list[dict[str, Any]] | None, dest: Peer) -> bool:
    if not ports:
        return True
    return any(
        p.get("port") == dest.port and p.get("protocol", "TCP") == dest.protocol for p in ports
    )


def egress_allowed(
    policies: list[dict[str, Any]], namespace: str, labels: dict[str, str], dest: Peer
) -> bool:
    applying = [
        p
        for p in policies
        if p["metadata"]["namespace"] == namespace
        and "Egress" in p["spec"].get("policyTypes", [])
        and _matches(p["spec"]["podSelector"], labels)
    ]
    if not applying:
        return True
    for policy in applying:
        for rule in policy["spec"].get("egress", []):
            peers = rule.get("to")
            if (not peers or any(_peer_ok(peer, dest) for peer in peers)) and _ports_ok(
                rule.get("ports"), dest
            ):
                return True
    return False
