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
    return a.address in _ANY or b.address in _ANY or a.address == b.address


def check_host_ports(clusters: Sequence[it.Cluster], registry: it.Registry | None) -> list[Problem]:
    """One problem per pair of places that publish the same host port (a template's port
    is one place, however many spokes it is stamped on)."""
    by_port: dict[tuple[int, str], list[_Claim]] = {}
    pairs: dict[tuple[str, str], tuple[_Claim, _Claim, int]] = {}
    for claim in _claims(clusters, registry):
        earlier_claims = by_port.setdefault((claim.port, claim.protocol), [])
        earlier = next((e for e in earlier_claims if _clash(claim, e)), None)
        earlier_claims.append(claim)
        if earlier is not None:
            first, _, count = pairs.get((claim.path, earlier.path), (claim, earlier, 0))
            pairs[(claim.path, earlier.path)] = (first, earlier, count + 1)
    return [_problem(claim, earlier, count) for claim, earlier, count in pairs.values()]


def _problem(claim: _Claim, earlier: _Claim, count: int) -> Problem:
    if claim.path == earlier.path:
        fix = (
            "a fixed host port can be published once: drop hostPort (or 0 for a random one), "
            "split a node group with count > 1, or set the port per spoke in overrides"
        )
    else:
        fix = "give one of them another hostPort, or hostPort: 0 for a random one"
    more = f" (and {count - 1} more like it)" if count > 1 else ""
    return Problem(
        claim.path,
        f"host port {claim.port}/{claim.protocol} of {claim.owner} is also taken by "
        f"{earlier.owner} ({earlier.path}){more}",
        fix,
    )
