"""KIND's `kind.x-k8s.io/v1alpha4` config fields, and which of them kindfleet models itself.

KIND decodes its config strictly: one unknown field and `kind create cluster` fails. The
raw escape hatch (`kindConfig`) therefore only accepts fields KIND has, and refuses the
ones kindfleet already manages, so that nothing set there silently undoes an allocated
subnet or a checked port.
"""

from __future__ import annotations

API_VERSION = "kind.x-k8s.io/v1alpha4"

CLUSTER_FIELDS = frozenset(
    {
        "kind",
        "apiVersion",
        "name",
        "featureGates",
        "runtimeConfig",
        "networking",
        "nodes",
        "kubeadmConfigPatches",
        "kubeadmConfigPatchesJSON6902",
        "containerdConfigPatches",
        "containerdConfigPatchesJSON6902",
    }
)
NODE_FIELDS = frozenset(
    {
        "role",
        "image",
        "labels",
        "extraMounts",
        "extraPortMappings",
        "kubeadmConfigPatches",
        "kubeadmConfigPatchesJSON6902",
    }
)
NETWORKING_FIELDS = frozenset(
    {
        "ipFamily",
        "apiServerPort",
        "apiServerAddress",
        "podSubnet",
        "serviceSubnet",
        "disableDefaultCNI",
        "kubeProxyMode",
        "dnsSearch",
    }
)
PATCH_JSON6902_FIELDS = frozenset({"group", "version", "kind", "patch"})

# Where each field kindfleet models lives in the fleet file, for "set it there" messages.
MODELLED_CLUSTER = {
    "kind": None,
    "apiVersion": None,
    "name": "name",
    "nodes": "nodes",
    "networking": "networking",
}
MODELLED_NODE = {
    "role": "role",
    "image": "image",
    "labels": "labels",
    "extraMounts": "mounts",
    "extraPortMappings": "portMappings",
}
RAW_CLUSTER_FIELDS = CLUSTER_FIELDS - MODELLED_CLUSTER.keys()
RAW_NODE_FIELDS = NODE_FIELDS - MODELLED_NODE.keys()
