"""What is wrong with a deploy request itself, found before any cluster is asked anything:
the provider that needs no deploy, and what clusters kindfleet does not run must be told
(an image they can pull, the hub's URL), all said at once with what to pass."""

from __future__ import annotations

from kindfleet.deploy.facts import check_hub_url
from kindfleet.deploy.options import DeployOptions
from kindfleet.errors import UsageError
from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.providers.base import Provider, traits


def preconditions(fleet: FleetSpec, provider: Provider, options: DeployOptions) -> None:
    """What is wrong with the request itself, before any cluster is asked anything."""
    if traits(provider).runs_platform:
        raise UsageError(
            f"provider {provider.name} already runs the platform, as processes on this "
            "machine: there is nothing to deploy",
            hint=f"`kindfleet up -f {fleet.source or 'FILE'}` starts the hub and the spokes",
        )
    if options.parallel < 1:
        raise UsageError("--parallel must be at least 1")
    if not traits(provider).owns_clusters:
        _existing_needs(options)
    if options.hub_url:
        check_hub_url(options.hub_url)


def _existing_needs(options: DeployOptions) -> None:
    """Clusters kindfleet does not run: an image they can pull and a way to the hub, both
    said at once when both are missing."""
    missing, hints = [], []
    if not options.image:
        missing.append("--image REF: an image they can pull (kindfleet cannot load one)")
        hints.append(
            "push the image to a registry they pull from (`docker build -t "
            "REGISTRY/kindfleet/platform:TAG . && docker push REGISTRY/kindfleet/platform:TAG`)"
        )
    if not options.hub_url:
        missing.append("--hub-url URL: how the spokes reach the hub")
        hints.append(
            "expose the hub's Service (platform-management/hub, port 8080) through a load "
            "balancer or an ingress, e.g. --hub-url https://hub.example.com"
        )
    if missing:
        raise UsageError(
            "clusters kindfleet does not run (provider existing) need " + "; and ".join(missing),
            hint="; ".join(hints),
        )
