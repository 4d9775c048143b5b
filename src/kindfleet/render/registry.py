"""What wires a fleet's local registry into its clusters, as text and data (no I/O).

KIND's local-registry recipe, done for every cluster of the fleet: each node's containerd
gets a `hosts.toml` that sends `localhost:<port>` (the name you push to from the host) to
the registry container on the kind network, and each cluster gets the KEP-1755
`local-registry-hosting` ConfigMap so tools (Tilt, Skaffold, ...) find the registry.
"""

from __future__ import annotations

from typing import Any

import yaml

from kindfleet.fleetspec.internal import Registry
from kindfleet.render.kindconfig import CERTS_DIR

HELP_URL = "https://kind.sigs.k8s.io/docs/user/local-registry/"
CONFIGMAP_NAME = "local-registry-hosting"
CONFIGMAP_NAMESPACE = "kube-public"


def hosts_dir(registry: Registry) -> str:
    """The containerd certs.d directory for the name images are pushed under."""
    return f"{CERTS_DIR}/{registry.host_endpoint}"


def hosts_toml(registry: Registry) -> str:
    return f'[host."http://{registry.internal_endpoint}"]\n'


def local_registry_hosting(registry: Registry) -> dict[str, Any]:
    """The KEP-1755 ConfigMap (name and namespace are fixed by the KEP)."""
    hosting = {
        "host": registry.host_endpoint,
        "hostFromClusterNetwork": registry.internal_endpoint,
        "help": HELP_URL,
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIGMAP_NAME, "namespace": CONFIGMAP_NAMESPACE},
        "data": {"localRegistryHosting.v1": yaml.safe_dump(hosting, sort_keys=False)},
    }


def local_registry_hosting_yaml(registry: Registry) -> str:
    return yaml.safe_dump(local_registry_hosting(registry), sort_keys=False)
