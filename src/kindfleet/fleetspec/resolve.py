"""From the fleet file to the internal model, checking what needs the whole fleet in view.

Single-field checks are done by the file model; here live the ones that compare
clusters with each other (names, host ports, subnets), expand spoke templates, pick the
node image per Kubernetes version and check the raw KIND escape hatch. Every problem is
collected and reported together, each with the path a user would look for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from kindfleet.errors import Problem, SpecError
from kindfleet.fleetspec import internal as it
from kindfleet.fleetspec import k8snames, model, raw, subnets
from kindfleet.fleetspec.errors import problems_from
from kindfleet.fleetspec.ports import check_host_ports
from kindfleet.fleetspec.providers import rules
from kindfleet.kind import images
from kindfleet.units import parse_cpu, parse_memory

DEFAULT_NODES = (
    model.NodeGroup(role="control-plane"),
    model.NodeGroup(role="worker"),
)
# `<cluster>-external-load-balancer` (KIND's HA proxy) must still be a valid 63-char name.
MAX_CLUSTER_NAME = 63 - len("-external-load-balancer")


@dataclass(frozen=True)
class _Planned:
    """One cluster of the fleet before the fleet-wide checks: its spec and where it came from."""

    spec: model.ClusterSpec
    name: str
    role: it.ClusterRole
    index: int
    path: str


def resolve(doc: model.FleetFile, *, source: str | None = None) -> it.FleetSpec:
    problems: list[Problem] = []
    planned = [_Planned(doc.hub, doc.hub.name or f"{doc.name}-hub", "hub", 0, "hub")]
    planned += _expand_spokes(doc, problems)
    _check_names(planned, problems)

    requests = [
        subnets.Request(
            p.name,
            p.spec.networking.ip_family,
            p.spec.networking.pod_subnet,
            p.spec.networking.service_subnet,
            f"{p.path}.networking",
            nodes=sum(g.count for g in (p.spec.nodes or DEFAULT_NODES)),
        )
        for p in planned
    ]
    allocations, subnet_problems = subnets.allocate(requests, doc.networking.container_subnets)
    problems += subnet_problems

    clusters = [
        _cluster(doc, p, alloc, problems) for p, alloc in zip(planned, allocations, strict=True)
    ]
    registry = _registry(doc)
    problems += check_host_ports(clusters, registry)
    if problems:
        raise SpecError(problems, source=source)
    return it.FleetSpec(
        name=doc.name,
        provider=doc.provider,
        kind_version=images.KIND_VERSION,
        clusters=tuple(clusters),
        registry=registry,
        container_subnets=tuple(doc.networking.container_subnets),
        source=source,
        warnings=tuple(_warnings(doc, clusters)),
    )


def _expand_spokes(doc: model.FleetFile, problems: list[Problem]) -> list[_Planned]:
    spokes = doc.spokes
    if isinstance(spokes, int):
        return [
            _Planned(model.ClusterSpec(), f"{doc.name}-spoke{i}", "spoke", i, "spokes")
            for i in range(1, spokes + 1)
        ]
    if isinstance(spokes, list):
        return [
            _Planned(s, s.name or f"{doc.name}-spoke{i}", "spoke", i, f"spokes[{i - 1}]")
            for i, s in enumerate(spokes, start=1)
        ]
    return _expand_set(doc.name, spokes, problems)


def _expand_set(fleet: str, spokes: model.SpokeSet, problems: list[Problem]) -> list[_Planned]:
    if spokes.template.name is not None:
        problems.append(
            Problem(
                "spokes.template.name",
                "a template cannot name its spokes",
                "use spokes.namePattern, e.g. '{fleet}-gpu{index}'",
            )
        )
    names = [
        spokes.name_pattern.replace("{fleet}", fleet).replace("{index}", str(i))
        for i in range(1, spokes.count + 1)
    ]
    overrides = _match_overrides(spokes, names, problems)
    base = spokes.template.model_dump(by_alias=True, exclude_unset=True, exclude={"name"})
    out: list[_Planned] = []
    for i, pattern_name in enumerate(names, start=1):
        if i not in overrides:
            out.append(_Planned(spokes.template, pattern_name, "spoke", i, "spokes.template"))
            continue
        key, patch = overrides[i]
        try:
            spec = model.ClusterSpec.model_validate(_merge(base, patch))
        except ValidationError as exc:
            problems += problems_from(exc, model.ClusterSpec, ("spokes", "overrides", key))
            continue
        path = f"spokes.overrides[{key!r}]"
        out.append(_Planned(spec, spec.name or pattern_name, "spoke", i, path))
    return out


def _match_overrides(
    spokes: model.SpokeSet, names: Sequence[str], problems: list[Problem]
) -> dict[int, tuple[str, dict[str, Any]]]:
    found: dict[int, tuple[str, dict[str, Any]]] = {}
    for key, patch in spokes.overrides.items():
        index = int(key) if key.isdigit() else (names.index(key) + 1 if key in names else 0)
        if not 1 <= index <= spokes.count:
            problems.append(
                Problem(
                    f"spokes.overrides[{key!r}]",
                    f"no spoke has index or name {key!r}",
                    f"use an index 1..{spokes.count} or one of: {', '.join(names)}",
                )
            )
        elif index in found:
            problems.append(
                Problem(
                    f"spokes.overrides[{key!r}]",
                    f"spoke {index} is overridden twice",
                    "merge the two overrides into one",
                )
            )
        else:
            found[index] = (key, patch)
    return found


def _merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Maps merge key by key; lists and scalars in the patch replace the template's."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _check_names(planned: Sequence[_Planned], problems: list[Problem]) -> None:
    seen: dict[str, str] = {}
    for p in planned:
        where = f"{p.path}.name" if p.path != "spokes" else "spokes"
        problem = k8snames.dns_label(p.name, max_length=MAX_CLUSTER_NAME)
        if problem:
            problems.append(
                Problem(
                    where, f"cluster name {problem}", "KIND names node containers after the cluster"
                )
            )
        elif p.name in seen:
            problems.append(
                Problem(
                    where,
                    f"cluster name {p.name!r} is already used by {seen[p.name]}",
                    "give every cluster its own name",
                )
            )
        seen.setdefault(p.name, p.path)


def _substitute(labels: Mapping[str, str], p: _Planned, fleet: str) -> dict[str, str]:
    return {
        k: v.replace("{index}", str(p.index)).replace("{name}", p.name).replace("{fleet}", fleet)
        for k, v in labels.items()
    }


def _cluster(
    doc: model.FleetFile,
    p: _Planned,
    alloc: subnets.Allocation,
    problems: list[Problem],
) -> it.Cluster:
    spec = p.spec
    version, image, problem = images.choose(
        version=spec.kubernetes_version or doc.kubernetes_version,
        image=spec.node_image or (None if spec.kubernetes_version else doc.node_image),
    )
    if problem:
        where = f"{p.path}.kubernetesVersion" if spec.kubernetes_version else "kubernetesVersion"
        problems.append(Problem(where, problem.message, problem.fix))
    nodes = _nodes(doc.name, p, image, problems)
    labels = _cluster_labels(nodes, _substitute(spec.labels, p, doc.name))
    capacity = _capacity(spec, nodes)
    if capacity.gpus:
        labels.setdefault("gpu", "true")  # GPU work selects gpu=true, as in the article
    for value in labels.values():
        problem_text = k8snames.label_value(value)
        if problem_text:
            problems.append(Problem(f"{p.path}.labels", problem_text))
    problems += raw.check_cluster(spec.kind_config, f"{p.path}.kindConfig")
    net = spec.networking
    return it.Cluster(
        name=p.name,
        role=p.role,
        index=p.index,
        kubernetes_version=version,
        node_image=image,
        nodes=tuple(nodes),
        networking=it.Networking(
            cni=net.cni,
            calico_version=net.calico_version,
            pod_subnet=alloc.pod,
            service_subnet=alloc.service,
            kube_proxy_mode=net.kube_proxy_mode,
            ip_family=net.ip_family,
            api_server_address=net.api_server_address,
            api_server_port=net.api_server_port,
            dns_search=tuple(net.dns_search) if net.dns_search is not None else None,
        ),
        labels=labels,
        capacity=capacity,
        context=_context(doc, spec, p.name),
        raw=spec.kind_config,
        source=p.path,
    )


def _nodes(fleet: str, p: _Planned, image: str, problems: list[Problem]) -> list[it.Node]:
    groups = p.spec.nodes or list(DEFAULT_NODES)
    counters = {"control-plane": 0, "worker": 0}
    nodes: list[it.Node] = []
    for g_index, group in enumerate(groups):
        path = f"{p.path}.nodes[{g_index}]"
        problems += raw.check_node(group.kind_config, f"{path}.kindConfig")
        labels = _substitute(group.labels, p, fleet)
        if group.gpus:
            labels.setdefault("gpu", "true")  # the article's convention for GPU nodes
        for key, value in labels.items():
            problem_text = k8snames.label_value(value)
            if problem_text:
                problems.append(Problem(f"{path}.labels", f"{key}: {problem_text}"))
        for _ in range(group.count):
            counters[group.role] += 1
            n = counters[group.role]
            nodes.append(
                it.Node(
                    name=f"{p.name}-{group.role}{'' if n == 1 else n}",
                    role=group.role,
                    image=group.image or image,
                    labels=labels,
                    taints=tuple(it.Taint(t.key, t.value, t.effect) for t in group.taints),
                    gpus=group.gpus,
                    port_mappings=tuple(
                        it.PortMapping(m.container_port, m.host_port, m.listen_address, m.protocol)
                        for m in group.port_mappings
                    ),
                    mounts=tuple(
                        it.Mount(
                            m.host_path,
                            m.container_path,
                            m.read_only,
                            m.selinux_relabel,
                            m.propagation,
                        )
                        for m in group.mounts
                    ),
                    raw=group.kind_config,
                    source=path,
                )
            )
    return nodes


def _cluster_labels(nodes: Sequence[it.Node], explicit: Mapping[str, str]) -> dict[str, str]:
    """Node labels every labelled node agrees on, then the cluster's own labels on top."""
    values: dict[str, set[str]] = {}
    for node in nodes:
        for key, value in node.labels.items():
            values.setdefault(key, set()).add(value)
    agreed = {k: next(iter(v)) for k, v in values.items() if len(v) == 1}
    return {**agreed, **explicit}


def _capacity(spec: model.ClusterSpec, nodes: Sequence[it.Node]) -> it.Capacity:
    declared = spec.capacity or model.Capacity()
    gpus = declared.gpu if declared.gpu is not None else sum(n.gpus for n in nodes)
    return it.Capacity(parse_cpu(declared.cpu), parse_memory(declared.memory), gpus)


def _context(doc: model.FleetFile, spec: model.ClusterSpec, name: str) -> str:
    if spec.context:
        return spec.context
    return rules(doc.provider).context.format(name=name)


def _registry(doc: model.FleetFile) -> it.Registry | None:
    reg = doc.registry
    if reg is None or not reg.enabled:
        return None
    return it.Registry(
        name=reg.name or f"{doc.name}-registry",
        host_port=reg.host_port,
        listen_address=reg.listen_address,
        image=reg.image,
    )


def _warnings(doc: model.FleetFile, clusters: Sequence[it.Cluster]) -> list[str]:
    found = rules(doc.provider)
    notes = [found.note] if found.note else []
    if doc.registry and found.registry_note:
        notes.append(found.registry_note)
    return notes
