"""Pod and service subnets for every cluster of a fleet, none overlapping another.

KIND gives every cluster 10.244.0.0/16 and 10.96.0.0/16. That is fine for one cluster
and wrong for a fleet: the moment clusters are meant to route to each other (multi-
cluster services, Submariner, Cilium ClusterMesh) identical ranges collide, and a pod
range that overlaps the container network breaks node-to-node traffic. So subnets left
`auto` are handed out here, clear of every explicit subnet and of the container network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from kindfleet.errors import Problem
from kindfleet.fleetspec.netindex import Network, NetworkIndex

Family = Literal["ipv4", "ipv6", "dual"]
Kind = Literal["pod", "service"]

AUTO = "auto"


@dataclass(frozen=True)
class Request:
    """One cluster's wish: its IP family and each subnet, given (CIDR text) or `auto`."""

    cluster: str
    family: Family
    pod: str
    service: str
    path: str  # where the cluster's networking sits in the fleet file
    nodes: int = 1


@dataclass(frozen=True)
class Allocation:
    cluster: str
    pod: str
    service: str


def _v4_candidates(kind: Kind) -> Iterator[Network]:
    # Begin with KIND's own defaults so a one-cluster fleet looks exactly like plain KIND.
    # Pods take 10.112-255, services 10.0-111: the two pools never meet.
    seconds = (range(244, 256), range(112, 244)) if kind == "pod" else (range(96, 112), range(96))
    for block in seconds:
        for second in block:
            yield ipaddress.ip_network(f"10.{second}.0.0/16")


def _v6_candidates(kind: Kind) -> Iterator[Network]:
    if kind == "pod":
        yield from ipaddress.ip_network("fd00:10:244::/48").subnets(new_prefix=56)
    else:
        yield from ipaddress.ip_network("fd00:10:96::/104").subnets(new_prefix=112)


_FAMILIES: dict[str, tuple[Literal[4, 6], ...]] = {"ipv4": (4,), "ipv6": (6,), "dual": (4, 6)}
KINDS: tuple[Kind, ...] = ("pod", "service")


def _families(family: Family) -> tuple[Literal[4, 6], ...]:
    return _FAMILIES[family]


def _parse(text: str, family: Family, kind: Kind, nodes: int) -> tuple[list[Network], str | None]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    nets: list[Network] = []
    for part in parts:
        try:
            nets.append(ipaddress.ip_network(part, strict=True))
        except ValueError:
            try:
                fixed = ipaddress.ip_network(part, strict=False)
            except ValueError:
                return [], f"{part!r} is not a CIDR; write e.g. 10.244.0.0/16, or auto"
            return [], f"{part!r} has host bits set; did you mean {fixed}?"
    wanted = _families(family)
    got = tuple(n.version for n in nets)
    if sorted(got) != sorted(wanted):
        need = " and ".join(f"one IPv{v}" for v in wanted)
        return [], f"ipFamily {family} needs {need} {kind} subnet, got {text!r}"
    for net in nets:
        problem = _size_problem(net, kind, nodes)
        if problem:
            return [], problem
    return nets, None


def _size_problem(net: Network, kind: Kind, nodes: int) -> str | None:
    if kind == "service":
        # kube-apiserver refuses service ranges wider than 20 host bits.
        limit = 12 if net.version == 4 else 108
        if net.prefixlen < limit:
            return f"{net} is wider than the API server accepts for services (/{limit} at most)"
        return None
    # kube-controller-manager cuts a /24 (IPv4) or /64 (IPv6) per node from the pod range.
    node_prefix = 24 if net.version == 4 else 64
    if net.prefixlen > node_prefix or 2 ** (node_prefix - net.prefixlen) < nodes:
        return f"{net} cannot give each of {nodes} node(s) a /{node_prefix}; use a wider range"
    return None


def _render(nets: Sequence[Network]) -> str:
    ordered = sorted(nets, key=lambda n: n.version)
    return ",".join(str(n) for n in ordered)


def allocate(
    requests: Sequence[Request], container_subnets: Sequence[str]
) -> tuple[list[Allocation], list[Problem]]:
    """Resolve every `auto`, then check that no two ranges of the fleet overlap.

    Linear in the number of requests: explicit ranges are claimed first, then each pool
    of candidates is walked once, front to back, whatever the number of clusters; a pool
    that runs dry is one problem naming how many clusters it left without a range.
    """
    problems: list[Problem] = []
    taken = _container_networks(container_subnets, problems)
    explicit = _claim_explicit(requests, taken, problems)
    pools: dict[tuple[Kind, int], _Pool] = {}
    allocations = []
    for i, req in enumerate(requests):
        chosen: dict[Kind, list[Network]] = {}
        for kind in KINDS:
            if (i, kind) in explicit:
                chosen[kind] = explicit[(i, kind)]
                continue
            chosen[kind] = []
            for version in _families(req.family):
                pool = pools.setdefault((kind, version), _Pool(kind, version))
                net = pool.next_free(taken)
                if net is None:
                    pool.unserved.append(req)
                    continue
                taken.add(net, f"{req.cluster}'s {kind} subnet ({net})")
                chosen[kind].append(net)
        allocations.append(
            Allocation(req.cluster, _render(chosen["pod"]), _render(chosen["service"]))
        )
    problems += [pool.problem() for pool in pools.values() if pool.unserved]
    return allocations, problems


class _Pool:
    """The candidates of one kind and IP version, handed out front to back. A candidate
    passed over stays taken (ranges are only ever added), so the walk never restarts."""

    def __init__(self, kind: Kind, version: Literal[4, 6]) -> None:
        self.kind = kind
        self.version = version
        self._candidates = _v4_candidates(kind) if version == 4 else _v6_candidates(kind)
        self.unserved: list[Request] = []

    def next_free(self, taken: NetworkIndex) -> Network | None:
        for candidate in self._candidates:
            if taken.holder(candidate) is None:
                return candidate
        return None

    def problem(self) -> Problem:
        first = self.unserved[0]
        names = ", ".join(r.cluster for r in self.unserved[:3])
        more = f" and {len(self.unserved) - 3} more" if len(self.unserved) > 3 else ""
        return Problem(
            f"{first.path}.{self.kind}Subnet",
            f"no free IPv{self.version} {self.kind} range left to allocate for "
            f"{len(self.unserved)} cluster(s): {names}{more} (auto hands out "
            f"{_POOL_WORDS[(self.kind, self.version)]})",
            "set subnets by hand for some clusters, or use fewer clusters",
        )


_POOL_WORDS = {
    ("pod", 4): "the /16s 10.112-255.0.0, outside the container network",
    ("service", 4): "the /16s 10.0-111.0.0, outside the container network",
    ("pod", 6): "the /56s of fd00:10:244::/48",
    ("service", 6): "the /112s of fd00:10:96::/104",
}


def _container_networks(texts: Sequence[str], problems: list[Problem]) -> NetworkIndex:
    taken = NetworkIndex()
    for text in texts:
        try:
            taken.add(ipaddress.ip_network(text, strict=False), "the container network")
        except ValueError:
            problems.append(
                Problem(
                    "networking.containerSubnets", f"{text!r} is not a CIDR", "e.g. 172.18.0.0/16"
                )
            )
    return taken


def _claim_explicit(
    requests: Sequence[Request], taken: NetworkIndex, problems: list[Problem]
) -> dict[tuple[int, Kind], list[Network]]:
    """Check and reserve every subnet a user wrote, before any `auto` is handed out.

    A subnet that is invalid is reported and stands for an empty choice, so allocation
    goes on and every other problem of the file is still found.
    """
    explicit: dict[tuple[int, Kind], list[Network]] = {}
    for i, req in enumerate(requests):
        for kind in KINDS:
            text = req.pod if kind == "pod" else req.service
            if text == AUTO:
                continue
            field = f"{req.path}.{kind}Subnet"
            nets, problem = _parse(text, req.family, kind, req.nodes)
            if problem:
                problems.append(Problem(field, problem))
            for net in nets:
                holder = f"{field} ({net})"
                clash = taken.holder(net)
                if clash == holder:  # one template's range, stamped on several spokes
                    problems.append(
                        Problem(
                            field,
                            f"{net} would be the {kind} subnet of every spoke made from it; "
                            "clusters may not share one",
                            "leave it auto, or set it per spoke in overrides",
                        )
                    )
                elif clash:
                    problems.append(
                        Problem(
                            field, f"{net} overlaps {clash}", "choose another range or use auto"
                        )
                    )
                taken.add(net, holder)
            explicit[(i, kind)] = nets
    return explicit
