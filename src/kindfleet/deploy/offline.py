"""What deploy would apply, with no cluster at all: `kindfleet manifests`.

The same renderer as deploy, given what can be known offline: the image deploy would
build (in the fleet's registry when it has one), the hub at its node's name on the
container network, and the fleet's container subnets in the egress rules (deploy narrows
them to addresses). Secrets are redacted unless the caller asks for the stored client
token; a spoke's join token exists only once a hub has minted it, so its Secret always
holds a placeholder here (`kindfleet spokes token NAME` mints one).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from kindfleet._version import __version__
from kindfleet.deploy.facts import check_hub_url
from kindfleet.deploy.image import ALWAYS, IF_NOT_PRESENT, default_tag, in_registry
from kindfleet.deploy.manifests import render_manifests
from kindfleet.deploy.manifests.objects import REDACTED, DeployFacts
from kindfleet.fleetspec.internal import FleetSpec

Manifests = dict[str, list[dict[str, Any]]]


def offline_facts(
    fleet: FleetSpec,
    *,
    image: str | None = None,
    hub_url: str | None = None,
    client_token: str | None = None,
) -> DeployFacts:
    ref, policy = image or default_tag(__version__), IF_NOT_PRESENT
    if image is None and fleet.registry is not None and fleet.rules.uses_registry:
        ref, policy = in_registry(fleet.registry, ref), ALWAYS
    return DeployFacts(
        image=ref,
        image_pull_policy=policy,
        hub_url=check_hub_url(hub_url) if hub_url else None,
        client_token=client_token,
    )


def offline_manifests(
    fleet: FleetSpec,
    *,
    cluster: str | None = None,
    image: str | None = None,
    hub_url: str | None = None,
    client_token: str | None = None,
) -> Manifests:
    facts = offline_facts(fleet, image=image, hub_url=hub_url, client_token=client_token)
    return render_manifests(fleet, facts, cluster)


def redact(objects: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies with every Secret value replaced by a placeholder."""
    out = []
    for obj in objects:
        if obj.get("kind") != "Secret":
            out.append(obj)
            continue
        secret = copy.deepcopy(obj)
        for key in ("stringData", "data"):
            if isinstance(secret.get(key), dict):
                secret[key] = dict.fromkeys(secret[key], REDACTED)
        out.append(secret)
    return out


def redact_all(manifests: Mapping[str, Sequence[dict[str, Any]]]) -> Manifests:
    return {name: redact(objects) for name, objects in manifests.items()}
