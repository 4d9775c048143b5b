"""KIND `kind.x-k8s.io/v1alpha4` Cluster configs, one per cluster of the fleet.

Pure: a resolved fleet in, plain dicts out. The output holds only fields of KIND's
v1alpha4 types, label values as strings, TOML that parses, so that `kind create cluster
--config` accepts it as is. Only what differs from KIND's defaults is written, so a
rendered config reads like one a person would write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from kindfleet.fleetspec.internal import Cluster, FleetSpec, Node, Registry
from kindfleet.kind.schema import API_VERSION
from kindfleet.kind.yamlscalars import needs_quotes

CERTS_DIR = "/etc/containerd/certs.d"
# Points containerd at per-registry hosts.toml files (kind's local-registry recipe); node
# images from kind v0.27 on have this already, older ones need the patch.
REGISTRY_CONFIG_PATH_PATCH = (
    f'[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "{CERTS_DIR}"'
)


def _kubeadm_kind(cluster: Cluster, node: Node) -> str:
    """The kubeadm document that registers this node: Init for the first control plane."""
    first = cluster.control_planes[0]
    return "InitConfiguration" if node is first else "JoinConfiguration"


def _taints_patch(cluster: Cluster, node: Node) -> str:
    doc = {
        "kind": _kubeadm_kind(cluster, node),
        "nodeRegistration": {
            "taints": [
                {"key": t.key, **({"value": t.value} if t.value else {}), "effect": t.effect}
                for t in node.taints
            ]
        },
    }
    # Through the same quoting dumper as the config: kind's patch code reads this text into
    # untyped maps, where a plain `value: 1234e56` would become the float 1.234e+59.
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def _node(cluster: Cluster, node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {"role": node.role, "image": node.image}
    if node.labels:
        out["labels"] = {k: str(v) for k, v in node.labels.items()}
    if node.port_mappings:
        out["extraPortMappings"] = [
            {
                "containerPort": m.container_port,
                **({"hostPort": m.host_port} if m.host_port is not None else {}),
                **({"listenAddress": m.listen_address} if m.listen_address else {}),
                "protocol": m.protocol,
            }
            for m in node.port_mappings
        ]
    if node.mounts:
        out["extraMounts"] = [
            {
                "hostPath": m.host_path,
                "containerPath": m.container_path,
                **({"readOnly": True} if m.read_only else {}),
                **({"selinuxRelabel": True} if m.selinux_relabel else {}),
                **({"propagation": m.propagation} if m.propagation else {}),
            }
            for m in node.mounts
        ]
    patches = [_taints_patch(cluster, node)] if node.taints else []
    patches += list(node.raw.get("kubeadmConfigPatches", []))
    if patches:
        out["kubeadmConfigPatches"] = patches
    if "kubeadmConfigPatchesJSON6902" in node.raw:
        out["kubeadmConfigPatchesJSON6902"] = node.raw["kubeadmConfigPatchesJSON6902"]
    return out


def _networking(cluster: Cluster) -> dict[str, Any]:
    net = cluster.networking
    out: dict[str, Any] = {}
    if net.ip_family != "ipv4":
        out["ipFamily"] = net.ip_family
    if net.api_server_address:
        out["apiServerAddress"] = net.api_server_address
    if net.api_server_port is not None:
        out["apiServerPort"] = net.api_server_port
    out["podSubnet"] = net.pod_subnet
    out["serviceSubnet"] = net.service_subnet
    if net.cni != "kindnet":
        out["disableDefaultCNI"] = True
    if net.kube_proxy_mode:
        out["kubeProxyMode"] = net.kube_proxy_mode
    if net.dns_search is not None:
        out["dnsSearch"] = list(net.dns_search)
    return out


def render_cluster(cluster: Cluster, registry: Registry | None = None) -> dict[str, Any]:
    """One cluster's KIND config, with the fleet's registry wired in when there is one."""
    config: dict[str, Any] = {
        "kind": "Cluster",
        "apiVersion": API_VERSION,
        "name": cluster.name,
    }
    raw: Mapping[str, Any] = cluster.raw
    for key in ("featureGates", "runtimeConfig"):
        if key in raw:
            config[key] = raw[key]
    config["networking"] = _networking(cluster)
    config["nodes"] = [_node(cluster, node) for node in cluster.nodes]
    containerd = [REGISTRY_CONFIG_PATH_PATCH] if registry else []
    containerd += list(raw.get("containerdConfigPatches", []))
    if containerd:
        config["containerdConfigPatches"] = containerd
    for key in (
        "kubeadmConfigPatches",
        "kubeadmConfigPatchesJSON6902",
        "containerdConfigPatchesJSON6902",
    ):
        if key in raw:
            config[key] = raw[key]
    return config


def render_fleet(spec: FleetSpec, cluster: str | None = None) -> dict[str, dict[str, Any]]:
    """Every cluster's config by name, hub first; or just the one named."""
    # `is not None`: `-c ''` (a variable not set) rendered every cluster, not an error.
    chosen = [spec.cluster(cluster)] if cluster is not None else list(spec.clusters)
    return {c.name: render_cluster(c, spec.registry) for c in chosen}


class _Dumper(yaml.SafeDumper):
    """Block style, multi-line strings as literal blocks, as KIND's own examples are written;
    any string another YAML reader could retype (`1.10`, `0o17`, `y`) in quotes."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else "'" if needs_quotes(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(config: Mapping[str, Any]) -> str:
    return yaml.dump(dict(config), Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def to_yaml_stream(configs: Mapping[str, Mapping[str, Any]]) -> str:
    return "---\n".join(to_yaml(c) for c in configs.values())
