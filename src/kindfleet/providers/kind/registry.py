"""The fleet's local registry, as the kind provider runs it (KIND's local-registry recipe).

One `registry:3` container per fleet (as kind's guide runs it), labelled
`dev.kindfleet.fleet=<fleet>` so it is found again by label, published on the host for
`docker push`, and connected to the kind network so every node's containerd (pointed at
it by a `hosts.toml`) pulls from it.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Sequence

from kindfleet.errors import PrerequisiteError
from kindfleet.exec import CommandError
from kindfleet.fleetspec.internal import Cluster, FleetSpec
from kindfleet.providers.base import FLEET_LABEL, ROLE_LABEL, HostsRegistry, RegistryStatus
from kindfleet.providers.kind import docker as dk
from kindfleet.providers.kind.kindcli import registry_run_cmd
from kindfleet.render import registry as reg_render


class KindRegistry(HostsRegistry):
    """The registry half of the kind provider; it needs the provider's docker and network."""

    docker: dk.Docker
    network: str
    _network_lock: threading.Lock

    @abc.abstractmethod
    def _containers(self, cluster: str) -> Sequence[dk.Container]:
        """The cluster's node containers: the kind provider itself supplies this."""

    def ensure_registry(self, fleet: FleetSpec) -> bool:
        registry = fleet.registry
        if registry is None:
            return False
        existing = self.docker.container(registry.name)
        if existing is not None:
            if existing.labels.get(FLEET_LABEL) != fleet.name:
                raise PrerequisiteError(
                    f"a container named {registry.name} exists and is not fleet {fleet.name}'s "
                    "registry",
                    hint=f"remove it (`docker rm -f {registry.name}`) or set registry.name",
                )
            published = existing.ports.get("5000/tcp")  # none while it is stopped
            if published is not None and published[1] != registry.host_port:
                raise PrerequisiteError(
                    f"registry {registry.name} publishes port {published[1]}, the fleet file "
                    f"says {registry.host_port}: a running container's ports cannot change "
                    "(pushes to the new port found nothing)",
                    hint="`kindfleet down` then `up` make it anew there (its images go with "
                    f"it), or put registry.hostPort back to {published[1]}",
                )
            if not existing.running:
                self.docker.start(registry.name)
            return False
        try:
            self.docker.run(registry_run_cmd(fleet, registry))
        except CommandError as exc:
            self.docker.remove(registry.name)  # `docker run` leaves a Created container behind
            raise CommandError(
                exc.result,
                what=f"could not start registry {registry.name}",
                hint=_registry_hint(exc),
            ) from None
        return True

    def connect_registry(self, fleet: FleetSpec, cluster: Cluster) -> None:
        registry = fleet.registry
        if registry is None:
            return
        with self._network_lock:
            self.docker.connect(self.network, registry.name)
        path = f"{reg_render.hosts_dir(registry)}/hosts.toml"
        for container in self._containers(cluster.name):
            self.docker.write_file(container.name, path, reg_render.hosts_toml(registry))

    def delete_registry(self, fleet: FleetSpec) -> bool:
        names = self.docker.names(labels={FLEET_LABEL: fleet.name, ROLE_LABEL: "registry"})
        self.docker.remove(*names)
        return bool(names)

    def registry_status(self, fleet: FleetSpec) -> RegistryStatus | None:
        registry = fleet.registry
        if registry is None:
            return None
        container = self.docker.container(registry.name)
        ours = container is not None and container.labels.get(FLEET_LABEL) == fleet.name
        return RegistryStatus(
            name=registry.name,
            exists=ours,
            running=bool(ours and container and container.running),
            endpoint=registry.host_endpoint,
            internal_endpoint=registry.internal_endpoint,
            networks=tuple(sorted(container.networks)) if ours and container else (),
            image=container.image if ours and container else registry.image,
        )


def _registry_hint(exc: CommandError) -> str:
    output = exc.output
    if "port is already allocated" in output or "address already in use" in output:
        return "another process holds the registry's host port; change registry.hostPort"
    if "pull access denied" in output or "Unable to find image" in output:
        return "the registry image is not available; pull it, or set registry.image"
    return "see the docker output above"
