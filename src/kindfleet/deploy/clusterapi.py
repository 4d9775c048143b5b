"""kubectl against one cluster of the fleet, for what deploy asks besides applying: where
its API server really is, simulated GPU capacity on nodes, a server-side dry run.

The commands are the fleet's one kubectl adapter (`providers.kubectl`); here each call
gets a private copy of the cluster's kubeconfig from the provider (KIND's for kind
clusters, the user's context flattened for existing ones), so the user's current context
never matters and their kubeconfig file is never written.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from kindfleet.exec import Runner
from kindfleet.fleetspec.internal import Cluster, FleetSpec
from kindfleet.providers.base import Provider
from kindfleet.providers.kubectl import Kubectl
from kindfleet.providers.kubectl.parsing import context_of


class ClusterApi:
    """kubectl against one cluster of the fleet, with the provider's kubeconfig for it."""

    def __init__(
        self,
        provider: Provider,
        fleet: FleetSpec,
        runner: Runner,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider = provider
        self.fleet = fleet
        self.kubectl = Kubectl(runner, poll_seconds=2.0, clock=clock, sleep=sleep)

    @contextlib.contextmanager
    def _session(self, cluster: Cluster) -> Iterator[tuple[Path, str | None]]:
        text = self.provider.kubeconfig(self.fleet, cluster.name)
        with tempfile.TemporaryDirectory(prefix="kindfleet-deploy-") as tmp:
            path = Path(tmp) / "kubeconfig"
            path.touch(mode=0o600)
            path.write_text(text, encoding="utf-8")
            yield path, context_of(text)

    def api_server_addresses(self, cluster: Cluster) -> list[str]:
        with self._session(cluster) as (path, context):
            return self.kubectl.api_server_addresses(path, context)

    def patch_node_status(
        self, cluster: Cluster, node: str, patch: Mapping[str, Any], *, dry_run: bool = False
    ) -> None:
        with self._session(cluster) as (path, context):
            self.kubectl.patch_node_status(path, context, node, patch, dry_run=dry_run)

    def dry_run_apply(self, cluster: Cluster, manifest: str) -> None:
        with self._session(cluster) as (path, context):
            self.kubectl.dry_run_apply(path, context, manifest)

    def wait_rollout(
        self, cluster: Cluster, namespace: str, deployment: str, timeout: float
    ) -> None:
        with self._session(cluster) as (path, context):
            self.kubectl.wait_rollout(path, context, namespace, deployment, timeout)
