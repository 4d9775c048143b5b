"""What wires a fleet's local registry into its clusters, as text and data (no I/O).

KIND's local-registry recipe, done for every cluster of the fleet: each node's containerd
gets a `hosts.toml` that sends `localhost:<port>` (the name you push to from the host) to
the registry container on the kind network, and each cluster gets the KEP-1755
`local-registry-hosting` ConfigMap so tools (Tilt, Skaffold, ...) find the registry.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
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


def plain_kind_steps(registry: Registry, clusters: Sequence[str]) -> str:
    """The shell steps `kindfleet up` takes for the registry and `kind create cluster` with
    a rendered config does not (kind's local-registry recipe): the rendered containerd
    patch only points containerd at certs.d; the hosts.toml it reads is written here."""
    certs = hosts_dir(registry)
    names = " ".join(shlex.quote(c) for c in clusters)
    configmap = local_registry_hosting_yaml(registry)
    return "\n".join(
        [
            "# once: the registry",
            f"docker run -d --restart=always -p {registry.listen_address}:"
            f"{registry.host_port}:5000 --network bridge --name {registry.name} "
            f"{registry.image}",
            "# after `kind create cluster` of each config: point every node at the registry",
            f"for cluster in {names}; do",
            '  for node in $(kind get nodes --name "$cluster"); do',
            f'    docker exec "$node" mkdir -p {certs}',
            f"    printf '%s\\n' {shlex.quote(hosts_toml(registry).strip())} | "
            f'docker exec -i "$node" cp /dev/stdin {certs}/hosts.toml',
            "  done",
            f"  kubectl --context \"kind-$cluster\" apply -f - <<'EOF'\n{configmap}EOF",
            "done",
            f"docker network connect kind {registry.name} 2>/dev/null || true",
        ]
    )
