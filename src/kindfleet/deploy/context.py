"""One deploy's shared state: the fleet, the provider, the options, and what the steps
found out so far (cluster status, the image, the client token, the facts, the manifests).

Every step reads and writes only this, so a step can be tested by building a context
around a fake provider and a recording runner. Progress goes out as lifecycle events,
the same ones `up` emits, so the CLI shows one line per step or per cluster.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kindfleet.deploy.clusterapi import ClusterApi
from kindfleet.deploy.image import ImagePlan
from kindfleet.deploy.manifests.objects import DeployFacts
from kindfleet.deploy.offline import Manifests
from kindfleet.deploy.options import DeployOptions
from kindfleet.deploy.validate import Validate
from kindfleet.exec import Runner
from kindfleet.fleetspec.internal import Cluster, FleetSpec
from kindfleet.lifecycle.context import Interruptible
from kindfleet.lifecycle.events import FLEET, Emits, Reporter, ignore
from kindfleet.platform.wire import JoinToken, Spoke
from kindfleet.providers.base import ClusterStatus, Provider, Traits, traits


class HubApi(Protocol):
    """What deploy needs of a hub client: the spokes the hub knows, a join token for one
    spoke, and closing it."""

    def spokes(self) -> list[Spoke]: ...
    def join_token(self, spoke: str, *, ttl_seconds: float | None = None) -> JoinToken: ...
    def close(self) -> None: ...


HubClientFactory = Callable[[str, str], HubApi]  # (url, client token) -> client


def default_hub_client(url: str, token: str) -> HubApi:
    from kindfleet.platform.client import HubClient

    return HubClient(url, token, timeout=5.0)


@dataclass
class DeployContext(Emits):
    fleet: FleetSpec
    provider: Provider
    options: DeployOptions
    runner: Runner
    plan: ImagePlan
    report: Reporter = ignore
    state_root: Path | None = None  # where tokens and access live; None: the default
    validator: Validate | None = None
    hub_client: HubClientFactory = default_hub_client
    interrupter: Interruptible | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    statuses: dict[str, ClusterStatus] = field(default_factory=dict)
    image_id: str | None = None
    client_token: str | None = None
    facts: DeployFacts | None = None
    manifests: Manifests = field(default_factory=dict)
    access_url: str | None = None
    failed: dict[str, str] = field(default_factory=dict)  # spoke -> why its apply failed
    spokes_ready: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def traits(self) -> Traits:
        return traits(self.provider)

    @property
    def api(self) -> ClusterApi:
        return ClusterApi(
            self.provider, self.fleet, self.runner, clock=self.clock, sleep=self.sleep
        )

    def version(self, cluster: Cluster) -> str:
        """The Kubernetes version the cluster reports, else the one the fleet file asks."""
        status = self.statuses.get(cluster.name)
        return (status.kubernetes_version if status else None) or cluster.kubernetes_version

    def warn(self, message: str, step: str = "deploy") -> None:
        """A fleet-wide warning a person must read; kept in the result too."""
        with self._lock:
            self.notes.append(message)
        self.emit(FLEET, step, "warn", message)

    def interrupt(self) -> None:
        if self.interrupter is not None:
            self.interrupter.interrupt()

    def deploy_facts(self) -> DeployFacts:
        assert self.facts is not None, "the facts step runs before this one"
        return self.facts
