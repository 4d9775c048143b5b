"""`status`: what the fleet is right now, asked of the provider for every cluster at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from kindfleet.errors import KindfleetError, PrerequisiteError
from kindfleet.fleetspec.internal import Cluster, FleetSpec
from kindfleet.lifecycle.parallel import run_parallel
from kindfleet.lifecycle.results import strays_message
from kindfleet.lifecycle.up import selected
from kindfleet.providers.base import (
    ClusterStatus,
    HostsRegistry,
    Provider,
    RegistryStatus,
    strays,
)


@dataclass(frozen=True)
class FleetStatus:
    fleet: str
    provider: str
    clusters: tuple[ClusterStatus, ...]
    registry: RegistryStatus | None = None
    warnings: tuple[str, ...] = ()  # what a person must know (e.g. the hub moved)

    @property
    def ready(self) -> bool:
        return all(c.ready for c in self.clusters)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ready"] = self.ready
        return data


def status(
    fleet: FleetSpec,
    provider: Provider,
    *,
    clusters: Sequence[str] | None = None,
    parallel: int = 8,
) -> FleetStatus:
    chosen = selected(fleet, clusters)

    def one(cluster: Cluster) -> ClusterStatus:
        try:
            return provider.status(fleet, cluster)
        except PrerequisiteError:
            raise
        except KindfleetError as exc:
            return ClusterStatus(
                cluster.name, cluster.role, exists=False, ready=False, message=exc.message
            )

    results = run_parallel(chosen, one, limit=parallel, key=lambda c: c.name)
    for result in results.values():
        if isinstance(result, BaseException):  # the engine down, a tool missing: say so
            raise result
    statuses = tuple(r for r in results.values() if isinstance(r, ClusterStatus))
    registry = None
    if isinstance(provider, HostsRegistry) and fleet.registry:
        registry = provider.registry_status(fleet)
    others = strays(provider, fleet) if not clusters else []
    warnings = (strays_message(fleet.name, others),) if others else ()
    return FleetStatus(fleet.name, provider.name, statuses, registry, warnings)
