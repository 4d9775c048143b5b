"""Host ports are one namespace for the whole fleet.

Two clusters that both publish host port 8080 do not fail validation in KIND; the second
`kind create cluster` fails half-way with a docker bind error. Catch it before anything
starts, naming both places.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kindfleet.errors import Problem
from kindfleet.fleetspec import internal as it

_ANY = ("0.0.0.0", "::", None)


@dataclass(frozen=True)
class _Claim:
    port: int
    protocol: str
    address: str | None
    owner: str  # human words: "node platform-hub-control-plane (hub.nodes[0].portMappings[1])"
    path: str


def _claims(clusters: Sequence[it.Cluster], registry: it.Registry | None) -> list[_Claim]:
    claims: list[_Claim] = []
    for cluster in clusters:
        port = cluster.networking.api_server_port
        if port:
            address = cluster.networking.api_server_address or "127.0.0.1"
            path = f"{cluster.source}.networking.apiServerPort"
            claims.append(_Claim(port, "TCP", address, f"{cluster.name}'s API server", path))
        for node in cluster.nodes:
            for i, mapping in enumerate(node.port_mappings):
                if mapping.host_port:
                    path = f"{node.source}.portMappings[{i}].hostPort"
                    claims.append(
                        _Claim(
                            mapping.host_port,
                            mapping.protocol,
                            mapping.listen_address,
                            f"node {node.name}",
                            path,
                        )
                    )
    if registry:
        claims.append(
            _Claim(
                registry.host_port,
                "TCP",
                registry.listen_address,
                f"registry {registry.name}",
                "registry.hostPort",
            )
        )
    return claims


def _clash(a: _Claim, b: _Claim) -> bool:
    if a.port != b.port or a.protocol != b.protocol:
        return False
    return a.address in _ANY or b.address in _ANY or a.address == b.address


def check_host_ports(clusters: Sequence[it.Cluster], registry: it.Registry | None) -> list[Problem]:
    problems: list[Problem] = []
    claims = _claims(clusters, registry)
    reported: set[str] = set()
    for i, claim in enumerate(claims):
        for earlier in claims[:i]:
            if _clash(claim, earlier) and claim.path + claim.owner not in reported:
                reported.add(claim.path + claim.owner)
                same_group = claim.path == earlier.path
                fix = (
                    "a node group with count > 1 cannot publish a fixed host port; "
                    "split the group or drop hostPort"
                    if same_group
                    else "give one of them another hostPort, or hostPort: 0 for a random one"
                )
                problems.append(
                    Problem(
                        claim.path,
                        f"host port {claim.port}/{claim.protocol} of {claim.owner} is also "
                        f"taken by {earlier.owner} ({earlier.path})",
                        fix,
                    )
                )
    return problems
