"""Checks that need more than one field in view: names and contexts across the fleet, a
CNI against its cluster's IP family, and the warnings about fleets that are valid but
will not do what they seem to.

The rule behind them: whatever `kindfleet up` would refuse half-way, `validate` refuses
first, and a cause is reported once (a template shared by 50 spokes is one mistake, not
50).
"""

from __future__ import annotations

from collections.abc import Sequence

from kindfleet.errors import Problem
from kindfleet.fleetspec import internal as it
from kindfleet.fleetspec import k8snames
from kindfleet.fleetspec.expand import Planned
from kindfleet.fleetspec.providers import rules

# The most a cluster name may be: `<name>-external-load-balancer` (KIND's HA proxy) must
# still be a valid 63-character container name.
MAX_CLUSTER_NAME = 63 - len("-external-load-balancer")
NEGATIVE = frozenset({"false", "no", "0", "off", "none"})


def names(planned: Sequence[Planned]) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, Planned] = {}
    for p in planned:
        problem = k8snames.dns_label(p.name, max_length=MAX_CLUSTER_NAME)
        if problem:
            problems.append(
                Problem(
                    p.name_path,
                    f"cluster name {problem}",
                    "KIND names node containers after the cluster",
                )
            )
        elif p.name in seen:
            problems.append(
                Problem(
                    p.name_path,
                    f"cluster name {p.name!r} is already used by {seen[p.name].path}",
                    "give every cluster its own name",
                )
            )
        seen.setdefault(p.name, p)
    return problems


def contexts(planned: Sequence[Planned], clusters: Sequence[it.Cluster]) -> list[Problem]:
    """Two clusters with one kubeconfig context: the second merge would overwrite the first,
    and every command aimed at one would reach the other."""
    problems: list[Problem] = []
    seen: dict[str, tuple[Planned, it.Cluster]] = {}
    for p, cluster in zip(planned, clusters, strict=True):
        earlier = seen.setdefault(cluster.context, (p, cluster))
        if earlier[0] is p:
            continue
        other, other_cluster = earlier
        fix = "give each cluster its own context, or leave context unset (kind-<name>)"
        if p.spec.context and p.path == other.path:
            problems.append(
                Problem(
                    f"{p.path}.context",
                    f"gives every spoke made from it the same context {cluster.context!r}",
                    "leave context unset in the template, or set it per spoke in overrides",
                )
            )
            continue
        mine, theirs = (p, other_cluster) if p.spec.context else (other, cluster)
        default = "" if (other if mine is p else p).spec.context else ", its default"
        problems.append(
            Problem(
                f"{mine.path}.context",
                f"context {cluster.context!r} is also {theirs.name}'s{default}",
                fix,
            )
        )
    return problems


def cni(planned: Sequence[Planned], clusters: Sequence[it.Cluster]) -> list[Problem]:
    problems: list[Problem] = []
    for p, cluster in zip(planned, clusters, strict=True):
        net = cluster.networking
        if net.cni == "calico" and net.ip_family == "ipv6":
            problems.append(
                Problem(
                    f"{p.path}.networking.cni",
                    "calico is installed with an IPv4 pool (CALICO_IPV4POOL_CIDR from the pod "
                    "subnet), and ipFamily ipv6 has no IPv4 pod range",
                    "use ipFamily: dual, or cni: none and install an IPv6 CNI yourself",
                )
            )
    return problems


def warnings(
    provider: str, planned: Sequence[Planned], clusters: Sequence[it.Cluster]
) -> list[str]:
    """Valid, but not what it seems: said on every command that reads the fleet."""
    out: list[str] = []
    for p, cluster in zip(planned, clusters, strict=True):
        net = cluster.networking
        configured = rules(provider).configures_clusters
        if configured and net.kube_proxy_mode == "none" and net.cni != "none":
            out.append(
                f"{p.path}.networking.kubeProxyMode: none with cni {net.cni}: Services will "
                f"not work, as {net.cni} does not replace kube-proxy; use cni: none with a "
                "CNI that does (e.g. Cilium's kube-proxy replacement), or drop kubeProxyMode"
            )
        if net.calico_version and net.cni != "calico":
            out.append(
                f"{p.path}.networking.calicoVersion: ignored, the cluster's cni is {net.cni}"
            )
        if p.spec.runs is not None and (provider != "local" or p.role == "hub"):
            where = "the hub, which runs no work" if p.role == "hub" else f"provider {provider}"
            out.append(
                f"{p.path}.runs: ignored on {where}: it sets how a local spoke's agent treats "
                "its runs (on KIND, the kubelet's containerLogMaxSize and containerLogMaxFiles "
                "go in kindConfig's kubeadmConfigPatches)"
            )
    return list(dict.fromkeys(out))


def one_per_cause(problems: Sequence[Problem]) -> list[Problem]:
    """Problems at the same path with the same fix are one cause met in several clusters
    (a template's value, a name pattern): one line, saying how many more."""
    groups: dict[tuple[str, str | None], list[Problem]] = {}
    for problem in dict.fromkeys(problems):
        groups.setdefault((problem.path, problem.fix), []).append(problem)
    out: list[Problem] = []
    for group in groups.values():
        first = group[0]
        if len(group) > 1:
            more = len(group) - 1
            first = Problem(first.path, f"{first.message} (and {more} more like it)", first.fix)
        out.append(first)
    return out
