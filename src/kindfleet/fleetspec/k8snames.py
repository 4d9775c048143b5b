"""Kubernetes naming rules, checked before KIND or the kubelet see them.

A bad label does not fail at `kind create` time: the kubelet refuses to start and the
node never joins, minutes later. Checking here turns that into one line naming the field.
Each check returns an error message (what is wrong and how to fix it) or None.
"""

from __future__ import annotations

import re

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

# The kubelet may only set these labels in the kubernetes.io / k8s.io namespaces on itself
# (NodeRestriction; kubelet --node-labels validation). Anything else there stops the node.
_KUBELET_ALLOWED_KEYS = frozenset(
    {
        "kubernetes.io/hostname",
        "kubernetes.io/arch",
        "kubernetes.io/os",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "failure-domain.beta.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "topology.kubernetes.io/zone",
    }
)
_KUBELET_ALLOWED_PREFIXES = ("kubelet.kubernetes.io", "node.kubernetes.io")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _shown(text: str) -> str:
    """A name as a message quotes it: cut when long (a 5 MB name is one mistake)."""
    return repr(text) if len(text) <= 70 else repr(text[:60] + "...")


def dns_label(name: str, *, max_length: int = 63) -> str | None:
    if not name:
        return "must not be empty"
    if len(name) > max_length:
        return f"{_shown(name)} is {len(name)} characters; the limit is {max_length}"
    if not _DNS_LABEL.fullmatch(name):
        return (
            f"{_shown(name)} is not a DNS-1123 label: use lower-case letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return None


def dns_subdomain(name: str) -> bool:
    return 0 < len(name) <= 253 and _DNS_SUBDOMAIN.fullmatch(name) is not None


def label_key(key: str) -> str | None:
    prefix, sep, name = key.rpartition("/")
    if sep and not prefix:
        return f"label key {_shown(key)} has an empty prefix before '/'"
    if prefix and not dns_subdomain(prefix):
        return (
            f"label key {_shown(key)}: prefix {_shown(prefix)} must be a lower-case DNS subdomain"
        )
    if not name or len(name) > 63 or not _QUALIFIED_NAME.fullmatch(name):
        return (
            f"label key {_shown(key)}: the name part must be 1-63 characters of letters, digits, "
            "'-', '_' or '.', starting and ending with a letter or digit"
        )
    return None


def label_value(value: str) -> str | None:
    if value == "":
        return None
    if len(value) > 63 or not _QUALIFIED_NAME.fullmatch(value):
        return (
            f"label value {_shown(value)} must be at most 63 characters of letters, digits, "
            "'-', '_' or '.', starting and ending with a letter or digit"
        )
    return None


def kubelet_may_set(key: str) -> str | None:
    """Whether a kubelet may put this label on its own node (KIND labels nodes that way)."""
    prefix, _, _ = key.rpartition("/")
    restricted = any(
        prefix == ns or prefix.endswith("." + ns) for ns in ("kubernetes.io", "k8s.io")
    )
    allowed = key in _KUBELET_ALLOWED_KEYS or any(
        prefix == p or prefix.endswith("." + p) for p in _KUBELET_ALLOWED_PREFIXES
    )
    if restricted and not allowed:
        return (
            f"label key {_shown(key)} is in the kubernetes.io/k8s.io namespace, which a kubelet "
            "may not set on its own node (the node would never join); use your own prefix, "
            "e.g. 'example.com/role', or label the node after creation"
        )
    return None
