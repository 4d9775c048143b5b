"""From the fleet file to the internal model, checking what needs the whole fleet in view.

Single-field checks are done by the file model; the clusters are planned by `expand`,
then here subnets are allocated, the node image picked per Kubernetes version, nodes,
labels, mounts and the raw KIND escape hatch checked, and `checks` compares clusters with
each other (names, contexts, CNI, host ports). Every problem is collected and reported
together, once per cause, each with the path a user would look for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kindfleet.errors import Problem, SpecError
from kindfleet.fleetspec import checks, expand, hostpaths, k8snames, model, raw, subnets
from kindfleet.fleetspec import internal as it
from kindfleet.fleetspec.errors import capped, format_path
from kindfleet.fleetspec.expand import Planned, Texts
from kindfleet.fleetspec.ports import check_host_ports
from kindfleet.fleetspec.providers import rules
from kindfleet.kind import images
from kindfleet.units import parse_cpu, parse_memory

DEFAULT_NODES = (
    model.NodeGroup(role="control-plane"),
    model.NodeGroup(role="worker"),
)
MAX_CLUSTER_NAME = checks.MAX_CLUSTER_NAME


def resolve(
    doc: model.FleetFile,
    *,
    source: str | None = None,
    base_dir: Path | None = None,
    texts: Texts | None = None,
) -> it.FleetSpec:
    """The internal model of a fleet file, or a `SpecError` naming every problem once.
    `base_dir`: where relative mount paths are read from; `texts`: the literal text of
    plain scalars, for messages."""
    problems: list[Problem] = []
    planned = expand.plan(doc, problems, texts)
    problems += checks.names(planned)

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

    notes: list[str] = []
    build = _Build(doc, base_dir, problems, notes)
    clusters = [build.cluster(p, alloc) for p, alloc in zip(planned, allocations, strict=True)]
    registry = _registry(doc)
    problems += checks.contexts(planned, clusters)
    problems += checks.cni(planned, clusters)
    problems += check_host_ports(clusters, registry)
    if problems:
        raise SpecError(capped(checks.one_per_cause(problems)), source=source)
    return it.FleetSpec(
        name=doc.name,
        provider=doc.provider,
        kind_version=images.KIND_VERSION,
        clusters=tuple(clusters),
        registry=registry,
        container_subnets=tuple(doc.networking.container_subnets),
        source=source,
        warnings=tuple(_warnings(doc) + checks.warnings(doc.provider, planned, clusters)),
        notes=tuple(dict.fromkeys(notes)),
    )


def _substitute(labels: Mapping[str, str], p: Planned, fleet: str) -> dict[str, str]:
    return {
        k: v.replace("{index}", str(p.index)).replace("{name}", p.name).replace("{fleet}", fleet)
        for k, v in labels.items()
    }


@dataclass
class _Build:
    """Turns planned clusters into internal ones, collecting problems and notes."""

    doc: model.FleetFile
    base_dir: Path | None
    problems: list[Problem]
    notes: list[str]

    def cluster(self, p: Planned, alloc: subnets.Allocation) -> it.Cluster:
        doc, spec = self.doc, p.spec
        version, image, problem = images.choose(
            version=spec.kubernetes_version or doc.kubernetes_version,
            image=spec.node_image or (None if spec.kubernetes_version else doc.node_image),
        )
        if problem:
            where = (
                f"{p.path}.kubernetesVersion" if spec.kubernetes_version else "kubernetesVersion"
            )
            self.problems.append(Problem(where, problem.message, problem.fix))
        nodes = self._nodes(p, image)
        explicit = _substitute(spec.labels, p, doc.name)
        labels = _cluster_labels(nodes, explicit)
        capacity = _capacity(spec, nodes)
        if capacity.gpus:
            self._gpu_label(f"{p.path}.labels", explicit, f"{capacity.gpus} GPU(s)")
            labels.setdefault("gpu", "true")  # GPU work selects gpu=true, as in the article
        self._label_values(f"{p.path}.labels", explicit)
        self.problems.extend(raw.check_cluster(spec.kind_config, f"{p.path}.kindConfig"))
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
            runs=_runs(spec),
        )

    def _nodes(self, p: Planned, image: str) -> list[it.Node]:
        groups = p.spec.nodes or list(DEFAULT_NODES)
        counters = {"control-plane": 0, "worker": 0}
        nodes: list[it.Node] = []
        for g_index, group in enumerate(groups):
            path = f"{p.path}.nodes[{g_index}]"
            self.problems.extend(raw.check_node(group.kind_config, f"{path}.kindConfig"))
            labels = _substitute(group.labels, p, self.doc.name)
            if group.gpus:
                self._gpu_label(f"{path}.labels", labels, f"gpus: {group.gpus}")
                labels.setdefault("gpu", "true")  # the article's convention for GPU nodes
            self._label_values(f"{path}.labels", labels)
            mounts = tuple(
                self._mount(m, f"{path}.mounts[{i}]") for i, m in enumerate(group.mounts)
            )
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
                            it.PortMapping(
                                m.container_port, m.host_port, m.listen_address, m.protocol
                            )
                            for m in group.port_mappings
                        ),
                        mounts=mounts,
                        raw=group.kind_config,
                        source=path,
                    )
                )
        return nodes

    def _mount(self, mount: model.Mount, path: str) -> it.Mount:
        host = hostpaths.resolve(mount.host_path, self.base_dir)
        if host.problem:
            self.problems.append(Problem(f"{path}.hostPath", host.problem, "write the full path"))
        if host.note:
            self.notes.append(f"{path}.hostPath: {host.note}")
        return it.Mount(
            host.path,
            mount.container_path,
            mount.read_only,
            mount.selinux_relabel,
            mount.propagation,
        )

    def _label_values(self, path: str, labels: Mapping[str, str]) -> None:
        """Values after placeholders are filled in ({name} may make one too long)."""
        for key, value in labels.items():
            problem = k8snames.label_value(value)
            if problem:
                self.problems.append(Problem(format_path([path, key]), problem))

    def _gpu_label(self, path: str, labels: Mapping[str, str], gpus: str) -> None:
        value = labels.get("gpu")
        if value is not None and value.lower() in checks.NEGATIVE:
            self.problems.append(
                Problem(
                    f"{path}.gpu",
                    f"gpu: {value!r} contradicts {gpus}: GPU work is placed by gpu=true",
                    "drop the gpu label (GPU nodes get gpu=true), or the GPUs",
                )
            )


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


def _runs(spec: model.ClusterSpec) -> it.Runs:
    declared = spec.runs or model.Runs()
    return it.Runs(
        parse_memory(declared.log_max_size), declared.log_max_files, declared.memory_limits
    )


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


def _warnings(doc: model.FleetFile) -> list[str]:
    found = rules(doc.provider)
    notes = [found.note] if found.note else []
    if doc.registry and found.registry_note:
        notes.append(found.registry_note)
    return notes
