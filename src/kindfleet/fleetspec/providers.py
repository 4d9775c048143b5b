"""What each provider means for a fleet file: the defaults and rules that differ by provider.

They are data, read by the resolution and by the commands that show a fleet, so no code
outside `kindfleet.providers` has to branch on a provider's name: a new provider is one
more row here and one more module there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kindfleet.errors import UsageError

ProviderName = Literal["kind", "local", "existing"]


@dataclass(frozen=True)
class ProviderRules:
    context: str  # the default kubeconfig context, `{name}` being the cluster's name
    kubernetes: bool  # the clusters are Kubernetes clusters (nodes, kubeconfig, manifests)
    configures_clusters: bool  # nodes and networking of the file shape the clusters made
    uses_registry: bool  # the fleet's local registry is run and wired by the provider
    note: str | None = None  # what `validate` says about any fleet on this provider
    registry_note: str | None = None  # ... about a fleet that asks for a registry


RULES: dict[str, ProviderRules] = {
    "kind": ProviderRules(
        context="kind-{name}", kubernetes=True, configures_clusters=True, uses_registry=True
    ),
    "existing": ProviderRules(
        context="{name}",
        kubernetes=True,
        configures_clusters=False,
        uses_registry=False,
        registry_note="provider existing: the local registry is ignored; push to your own registry",
    ),
    "local": ProviderRules(
        context="kind-{name}",
        kubernetes=False,
        configures_clusters=False,
        uses_registry=False,
        note="provider local runs the hub and spokes as local processes: not Kubernetes; "
        "nodes, networking and kindConfig only matter for the kind provider",
    ),
}


def rules(provider: str) -> ProviderRules:
    try:
        return RULES[provider]
    except KeyError:
        raise UsageError(
            f"{provider!r} names no provider", hint=f"use one of {', '.join(RULES)}"
        ) from None


def checked(provider: str | None) -> ProviderName | None:
    """A provider override as given on a command line or to the Python API, checked."""
    if provider is None:
        return None
    rules(provider)
    return provider  # type: ignore[return-value]
