"""Calico's manifest, made to match the cluster it is installed in (no I/O).

With `disableDefaultCNI` a KIND cluster has no pod network until a CNI is applied, and
Calico must hand out pod addresses from the pod subnet the fleet allocated for that
cluster (so that clusters sharing the kind network never overlap). calico.yaml ships the
`CALICO_IPV4POOL_CIDR` setting commented out; it is switched on here with the cluster's
subnet, by editing those lines only, so the rest of the manifest is applied exactly as
Calico published it.

Encapsulation: calico.yaml creates its pool with IP-in-IP always on, which needs the
`ipip` module in the host's kernel (every kind node shares it; Docker Desktop's VM and
some CI images have none, and a node cannot load one). Calico's own kind guide installs
with `encapsulation: VXLANCrossSubnet`, and so does kindfleet: nodes on the one kind
network route to each other directly (BGP, no tunnel, no module needed), VXLAN only
across subnets. Two values of the calico-node environment change, nothing else.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from kindfleet import pins

DEFAULT_VERSION = pins.CALICO_VERSION
MANIFEST_URL = (
    "https://raw.githubusercontent.com/projectcalico/calico/{version}/manifests/calico.yaml"
)
NAMESPACE = "kube-system"
NODE_SELECTOR = "k8s-app=calico-node"

_IMAGE = re.compile(r"^[ \t]*(?:- )?image:[ \t]*[\"']?(?P<ref>[^\s\"'#]+)", re.MULTILINE)
_COMMENTED = re.compile(
    r"^(?P<indent>[ \t]*)#[ \t]*- name: CALICO_IPV4POOL_CIDR[ \t]*\n"
    r"(?P=indent)#[ \t]*value: .*$",
    re.MULTILINE,
)
_ACTIVE = re.compile(
    r"^(?P<head>(?P<indent>[ \t]*)- name: CALICO_IPV4POOL_CIDR[ \t]*\n"
    r"(?P=indent)  value: ).*$",
    re.MULTILINE,
)


ENCAPSULATION = {"CALICO_IPV4POOL_IPIP": "Never", "CALICO_IPV4POOL_VXLAN": "CrossSubnet"}


class ManifestError(ValueError):
    """The manifest does not have the shape this transform knows."""


def manifest_url(version: str, template: str = MANIFEST_URL) -> str:
    return template.format(version=version)


def ipv4_pool(pod_subnet: str) -> str:
    """The IPv4 CIDR of a pod subnet setting (one CIDR, or two comma-separated for dual stack)."""
    for part in pod_subnet.split(","):
        network = ipaddress.ip_network(part.strip(), strict=False)
        if network.version == 4:
            return str(network)
    raise ManifestError(f"pod subnet {pod_subnet!r} has no IPv4 range for Calico's IPv4 pool")


def set_ipv4_pool(manifest: str, cidr: str) -> str:
    """`manifest` with CALICO_IPV4POOL_CIDR set to `cidr`, whether it was commented out or not."""
    network = ipaddress.ip_network(cidr, strict=False)
    if network.version != 4:
        raise ManifestError(f"{cidr} is not an IPv4 range")
    value = f'"{network}"'
    if _COMMENTED.search(manifest):
        patched, count = _COMMENTED.subn(
            lambda m: f"{m['indent']}- name: CALICO_IPV4POOL_CIDR\n{m['indent']}  value: {value}",
            manifest,
        )
    else:
        patched, count = _ACTIVE.subn(lambda m: f"{m['head']}{value}", manifest)
    if count != 1:
        found = "no" if count == 0 else f"{count}"
        raise ManifestError(
            f"expected one CALICO_IPV4POOL_CIDR setting in the calico-node DaemonSet, found {found}"
        )
    return patched


def _env_value(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"^(?P<head>(?P<indent>[ \t]*)- name: {name}[ \t]*\n(?P=indent)  value: ).*$",
        re.MULTILINE,
    )


def _setter(value: str) -> Callable[[re.Match[str]], str]:
    return lambda match: f'{match["head"]}"{value}"'


def set_encapsulation(manifest: str, values: dict[str, str] | None = None) -> str:
    """`manifest` with the calico-node settings of `values` (default: VXLANCrossSubnet,
    no IP-in-IP) set; each must be there exactly once, as calico.yaml ships it."""
    for name, value in (values or ENCAPSULATION).items():
        manifest, count = _env_value(name).subn(_setter(value), manifest)
        if count != 1:
            found = "no" if count == 0 else f"{count}"
            raise ManifestError(
                f"expected one {name} setting in the calico-node DaemonSet, found {found}"
            )
    return manifest


def images(manifest: str) -> list[str]:
    """Every image the manifest runs, once each, in the order they first appear."""
    return list(dict.fromkeys(m["ref"] for m in _IMAGE.finditer(manifest)))
