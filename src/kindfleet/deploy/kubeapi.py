"""What deploy asks of each cluster's API besides applying: where its API server really
is, simulated GPU capacity on nodes, a server-side dry run.

Through kubectl, like the providers (the same kubeconfig handling, pasteable commands),
with a private copy of the cluster's kubeconfig from the provider: KIND's for kind
clusters, the user's context flattened for existing ones. The user's current context
never matters and their kubeconfig file is never written.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kindfleet import kubeconfig as kc
from kindfleet.exec import Command, Runner, cmd
from kindfleet.fleetspec.internal import Cluster, FleetSpec
from kindfleet.providers.base import Provider
from kindfleet.providers.kubectl import FIELD_MANAGER, KUBECTL

GPU_RESOURCE = "nvidia.com/gpu"

# --- commands (pure) -----------------------------------------------------------------


def _base(kubeconfig: Path, context: str | None) -> list[str]:
    argv = [KUBECTL, "--kubeconfig", str(kubeconfig)]
    return argv + (["--context", context] if context else [])


def api_slices_cmd(kubeconfig: Path, context: str | None) -> Command:
    """The EndpointSlices of the `kubernetes` Service: the API servers' real addresses."""
    return cmd(
        *_base(kubeconfig, context),
        "get",
        "endpointslices",
        "--namespace",
        "default",
        "--selector",
        "kubernetes.io/service-name=kubernetes",
        "--output=json",
        "--request-timeout=20s",
        timeout=40,
    )


def gpu_patch(count: int) -> dict[str, Any]:
    """The Node status merge patch that advertises `count` simulated GPUs (capacity and
    allocatable both, so the number is usable before the kubelet's next status update)."""
    value = str(count) if count else None  # null deletes the key in a merge patch
    return {"status": {"capacity": {GPU_RESOURCE: value}, "allocatable": {GPU_RESOURCE: value}}}


def patch_node_status_cmd(
    kubeconfig: Path, context: str | None, node: str, patch: Mapping[str, Any], *, dry_run: bool
) -> Command:
    argv = [*_base(kubeconfig, context), "patch", "node", node, "--subresource=status"]
    argv += ["--type=merge", "--patch", json.dumps(patch, sort_keys=True)]
    if dry_run:
        argv.append("--dry-run=server")
    return cmd(*argv, "--request-timeout=20s", timeout=40)


def dry_run_apply_cmd(kubeconfig: Path, context: str | None, manifest: str) -> Command:
    return cmd(
        *_base(kubeconfig, context),
        "apply",
        "--server-side",
        "--dry-run=server",
        f"--field-manager={FIELD_MANAGER}",
        "--filename=-",
        stdin=manifest,
        timeout=300,
    )


# --- parsing (pure) ------------------------------------------------------------------


def parse_api_slices(text: str) -> list[str]:
    """Addresses of the ready endpoints in an EndpointSlice list, in order, once each."""
    data = json.loads(text or "{}")
    out: list[str] = []
    for item in data.get("items") or []:
        for endpoint in item.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            out += [a for a in endpoint.get("addresses") or [] if a not in out]
    return out


def context_of(text: str) -> str | None:
    """The context to use in a one-cluster kubeconfig: its current one, else its only one."""
    config = kc.parse(text, source="the cluster's kubeconfig")
    current = config.get("current-context")
    if current:
        return str(current)
    names = kc.context_names(config)
    return names[0] if len(names) == 1 else None


# --- adapter -------------------------------------------------------------------------


class ClusterApi:
    """kubectl against one cluster of the fleet, with the provider's kubeconfig for it."""

    def __init__(self, provider: Provider, fleet: FleetSpec, runner: Runner) -> None:
        self.provider = provider
        self.fleet = fleet
        self.runner = runner

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
            return parse_api_slices(self.runner.run(api_slices_cmd(path, context)).stdout)

    def patch_node_status(
        self, cluster: Cluster, node: str, patch: Mapping[str, Any], *, dry_run: bool = False
    ) -> None:
        with self._session(cluster) as (path, context):
            self.runner.run(patch_node_status_cmd(path, context, node, patch, dry_run=dry_run))

    def dry_run_apply(self, cluster: Cluster, manifest: str) -> None:
        with self._session(cluster) as (path, context):
            self.runner.run(dry_run_apply_cmd(path, context, manifest))
