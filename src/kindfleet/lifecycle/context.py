"""One `up` run's shared state: the fleet, the provider, the options, and what has happened.

Every step reads and writes only this, so a step can be tested by building a context
around a fake provider. What the orchestrator must know to clean up after Ctrl-C
(clusters whose creation started and did not finish) is recorded here, under a lock,
because clusters are worked on in parallel threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.kubeconfig import KubeconfigFile
from kindfleet.lifecycle.calicosource import CalicoManifests
from kindfleet.lifecycle.events import Emits, Reporter, ignore
from kindfleet.providers.base import Provider, Traits, traits


class Interruptible(Protocol):
    """What can stop the commands in flight (the process runner)."""

    def interrupt(self) -> None: ...
    def resume(self) -> None: ...


@dataclass(frozen=True)
class UpOptions:
    parallel: int = 4
    kubeconfig: Path | None = None  # merge contexts here; None: merge nowhere
    wait_seconds: float = 300.0  # for nodes (and Calico) to be Ready, per cluster
    retain: bool = False  # keep the nodes of a cluster whose creation failed
    skip_checks: frozenset[str] = frozenset()
    preflight: bool = True
    calico_manifest: str | None = None  # file or URL ({version} is replaced)
    preload_images: bool = True  # pull the CNI's images once here and load them into nodes
    clusters: tuple[str, ...] | None = None  # only these; None: the whole fleet
    switch_context: bool = True  # make the hub's context the current one
    logs_dir: Path | None = None  # a failed cluster's logs go to <logs_dir>/<cluster> first


@dataclass
class UpContext(Emits):
    fleet: FleetSpec
    provider: Provider
    options: UpOptions
    workdir: Path  # each cluster's own kubeconfig while it is created
    report: Reporter = ignore
    manifests: CalicoManifests = field(default_factory=CalicoManifests)
    interrupter: Interruptible | None = None
    clock: Callable[[], float] = time.monotonic
    cancelled: threading.Event = field(default_factory=threading.Event)
    started: set[str] = field(default_factory=set)  # creation begun in this run
    finished: set[str] = field(default_factory=set)  # and then completed (or cleaned up)
    registry_new: bool = False  # the fleet's registry did not exist before this run
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def traits(self) -> Traits:
        return traits(self.provider)

    @property
    def kubeconfig_file(self) -> KubeconfigFile | None:
        if self.options.kubeconfig is None or not self.traits.manages_kubeconfig:
            return None
        return KubeconfigFile(self.options.kubeconfig)

    def cluster_kubeconfig(self, cluster: str) -> Path:
        return self.workdir / f"{cluster}.kubeconfig"

    def mark_started(self, cluster: str) -> None:
        with self._lock:
            self.started.add(cluster)

    def mark_finished(self, cluster: str) -> None:
        with self._lock:
            self.finished.add(cluster)

    def half_made(self) -> list[str]:
        """Clusters whose creation began in this run and did not complete, in fleet order."""
        with self._lock:
            pending = self.started - self.finished
        return [c.name for c in self.fleet.clusters if c.name in pending]

    def interrupt(self) -> None:
        self.cancelled.set()
        if self.interrupter is not None:
            self.interrupter.interrupt()

    def resume(self) -> None:
        if self.interrupter is not None:
            self.interrupter.resume()
