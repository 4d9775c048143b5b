"""Images pulled once on this machine and `kind load`ed into a cluster's nodes.

Left to themselves, the nodes of a fleet each pull what they run from its registry: with
three Calico spokes of two nodes, every Calico image six times, anonymously, which is
what registries rate-limit (Docker Hub: 100 pulls per 6 hours per address). Pulled once
here (with this machine's `docker login`, if any) and loaded with `kind load
docker-image`, each image is fetched once per fleet, however many nodes run it.

An image that cannot be pulled here (no network, no credentials) is not an error: the
nodes are left to pull it themselves, as they would have anyway, and a warning says so.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from kindfleet.exec import CommandError, Runner
from kindfleet.fleetspec.internal import Cluster, FleetSpec
from kindfleet.providers.kind import docker as dk
from kindfleet.providers.kind.kindcli import load_image_cmd
from kindfleet.providers.preflight import last_line


class ImagePreloader:
    """The preloading half of the kind provider; it needs the provider's runner and docker."""

    runner: Runner
    docker: dk.Docker
    # Per provider: an image is looked for (and pulled) once, whichever cluster asks.
    _pull_lock: threading.Lock
    _pulled: dict[str, str | None]  # image -> None (here) or why it could not be had

    def _on_host(self, image: str) -> str | None:
        """None once the image is on this machine; else why it could not be had."""
        with self._pull_lock:
            if image not in self._pulled:
                self._pulled[image] = self._fetch(image)
            return self._pulled[image]

    def _fetch(self, image: str) -> str | None:
        if self.docker.has_image(image):
            return None
        try:
            self.runner.run(dk.pull_cmd(image))
        except CommandError as exc:
            return last_line(exc.output)
        return None

    def preload_images(
        self, fleet: FleetSpec, cluster: Cluster, images: Sequence[str]
    ) -> list[str]:
        warnings, ready = [], []
        for image in images:
            why = self._on_host(image)
            if why is None:
                ready.append(image)
            else:
                warnings.append(f"{image} not pulled here ({why}): the nodes pull it themselves")
        if ready:
            self.runner.run(load_image_cmd(cluster.name, *ready))
        return warnings
