"""The `existing` provider: the fleet file mapped onto clusters someone else runs.

EKS, GKE, AKS or on-prem clusters, each reached through a context of the user's
kubeconfig (the cluster's `context`, by default its name). kindfleet does not own them:
`up` only checks that each answers and which Kubernetes it runs, `down` leaves them alone,
and their kubeconfig entries are the user's, never rewritten. `deploy` applies the
platform to them through the same contexts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from kindfleet import kubeconfig as kc
from kindfleet.errors import KindfleetError, PrerequisiteError, UsageError
from kindfleet.exec import CommandError, CommandNotFound, ProcessRunner, Runner, failure_says
from kindfleet.fleetspec.internal import Cluster, FleetSpec
from kindfleet.providers.base import (
    FAULT_ACTIONS,
    AppliesManifests,
    Availability,
    ClusterStatus,
    CreateOptions,
    FaultSpec,
    FaultUnsupported,
    HubAccess,
    NodeInfo,
    Provider,
    ProviderSettings,
    WaitsForReady,
)
from kindfleet.providers.kubectl import Kubectl
from kindfleet.providers.kubectl.commands import client_version_cmd
from kindfleet.providers.kubectl.parsing import NodeState, parse_versions
from kindfleet.providers.kubefaults import KubeFaults, KubeProbes
from kindfleet.providers.preflight import (
    INSTALL_KUBECTL,
    PreflightOptions,
    Report,
    kubectl_finding,
    probe,
)

_MINOR = re.compile(r"^v?(\d+)\.(\d+)")


def minor(version: str | None) -> tuple[int, int] | None:
    match = _MINOR.match(version or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def version_notes(wanted: str, server: str, client: str | None) -> list[str]:
    """What a person should know about the versions found (pure; empty when all is well)."""
    notes = []
    want, have = minor(wanted), minor(server)
    if want and have and want != have:
        notes.append(f"runs Kubernetes {server}, the fleet file says {wanted}")
    mine = minor(client)
    if mine and have and abs(mine[1] - have[1]) > 1 and mine[0] == have[0]:
        notes.append(
            f"kubectl {client} is more than one minor version away from the server {server} "
            "(outside kubectl's supported skew)"
        )
    return notes


# --- faults (issue 12) ---------------------------------------------------------------
class ExistingFaults:
    """Faults a real cluster allows through its API (faults, issue 12): the platform's
    Deployment killed and kept at 0, the orchestrator's hub egress cut. Its machines and
    network are its owner's: stop, pause and slow are refused, with why."""

    REFUSED: ClassVar[dict[str, str]] = {
        "stop": "provider existing does not run the clusters' machines: stop nodes with your "
        "cloud's tools (or use kill: the platform's agent down)",
        "pause": "provider existing cannot freeze a cluster it does not run (use kill)",
        "slow": "provider existing has no hold on the network between clusters (latency "
        "needs the nodes' tc: use the kind provider, or partition)",
    }
    runner: Runner
    kubeconfig_path: Path | None

    def fault_refusal(self, fleet: FleetSpec, cluster: Cluster, action: str) -> str | None:
        if action not in FAULT_ACTIONS:
            return f"{action!r} is not a fault"
        return self.REFUSED.get(action)

    def _cut(self, fleet: FleetSpec, cluster: Cluster) -> list[Cluster]:
        return list(fleet.spokes) if cluster.role == "hub" else [cluster]

    def inject_fault(self, fleet: FleetSpec, cluster: Cluster, fault: FaultSpec) -> dict[str, Any]:
        if fault.action in self.REFUSED:
            raise FaultUnsupported(self.REFUSED[fault.action])
        faults = KubeFaults(self.runner)
        if fault.action == "kill":
            return faults.kill(self.kubeconfig_path, cluster.context, cluster.role)
        cut: list[str] = []
        try:
            for spoke in self._cut(fleet, cluster):
                faults.cut_egress(self.kubeconfig_path, spoke.context)
                cut.append(spoke.name)
        except KindfleetError:
            for name in cut:
                faults.restore_egress(self.kubeconfig_path, fleet.cluster(name).context)
            raise
        return {"spokes": cut}

    def clear_fault(
        self, fleet: FleetSpec, cluster: Cluster, fault: FaultSpec, undo: Mapping[str, Any]
    ) -> None:
        faults = KubeFaults(self.runner)
        if fault.action == "kill":
            faults.revive(self.kubeconfig_path, cluster.context, cluster.role, undo)
        elif fault.action == "partition":
            for spoke in self._cut(fleet, cluster):  # each policy says itself what it had
                faults.restore_egress(self.kubeconfig_path, spoke.context)

    def spoke_credential(self, fleet: FleetSpec, spoke: Cluster) -> str:
        return KubeProbes(self.runner).credential(self.kubeconfig_path, spoke.context)

    def hub_address_inside(self, fleet: FleetSpec, spoke: Cluster) -> tuple[str, int] | None:
        return KubeProbes(self.runner).hub_address(self.kubeconfig_path, spoke.context)


# --- end faults (issue 12) -----------------------------------------------------------


class ExistingProvider(ExistingFaults, Provider, WaitsForReady, AppliesManifests):
    name: ClassVar[Literal["kind", "existing", "local"]] = "existing"
    owns_clusters: ClassVar[bool] = False
    manages_kubeconfig: ClassVar[bool] = False

    @classmethod
    def from_settings(cls, settings: ProviderSettings) -> ExistingProvider:
        return cls(settings)

    def __init__(self, settings: ProviderSettings | None = None) -> None:
        settings = settings or ProviderSettings()
        self.runner = settings.runner or ProcessRunner()
        self.kubeconfig_path: Path | None = settings.kubeconfig
        self.kubectl = Kubectl(self.runner, poll_seconds=settings.poll_seconds)

    def availability(self) -> Availability:
        try:
            client, _ = self._client_version()
        except CommandNotFound:
            return Availability(False, "kubectl not found on PATH", INSTALL_KUBECTL)
        return Availability(True, versions={"kubectl": client or "unknown"})

    def preflight(self, fleet: FleetSpec, options: PreflightOptions) -> Report:
        """kubectl is all it drives; whether each cluster answers is `up`'s own check."""
        if "kubectl" not in options.wanted(("kubectl",)):
            return Report()
        versions, error = probe(self._client_version)
        client = versions[0] if versions else None
        finding = kubectl_finding(client, error)
        return Report((finding,), {"kubectl": client} if client else {})

    def _client_version(self) -> tuple[str | None, str | None]:
        return parse_versions(self.runner.run(client_version_cmd()).stdout)

    def _where(self) -> str:
        return str(self.kubeconfig_path) if self.kubeconfig_path else "your kubeconfig"

    def _require_context(self, cluster: Cluster) -> None:
        if cluster.context not in self.kubectl.contexts(self.kubeconfig_path):
            raise PrerequisiteError(
                f"{cluster.name}: context {cluster.context!r} is not in {self._where()}",
                hint=(
                    "set `context:` for this cluster in the fleet file to one that "
                    "`kubectl config get-contexts` lists"
                ),
            )

    def check(self, cluster: Cluster) -> tuple[str, list[str]]:
        """(server version, notes) for a reachable cluster; raises when it does not answer."""
        self._require_context(cluster)
        with failure_says(
            f"{cluster.name} (context {cluster.context}) does not answer",
            hint="check your credentials and network (VPN?), then `kubectl cluster-info`",
        ):
            client, server = self.kubectl.versions(self.kubeconfig_path, cluster.context)
        if not server:
            raise PrerequisiteError(f"{cluster.name}: the server did not say its version")
        return server, version_notes(cluster.kubernetes_version, server, client)

    def create(self, fleet: FleetSpec, cluster: Cluster, options: CreateOptions) -> None:
        """Nothing is created: the cluster must answer, and version surprises are reported."""
        server, notes = self.check(cluster)
        if options.report is not None:
            options.report(f"reachable, Kubernetes {server}")
            for note in notes:
                options.report(f"warning: {note}")

    def delete(self, fleet: FleetSpec, cluster: str) -> None:
        """Never: these clusters are not kindfleet's to remove."""

    def list_clusters(self, fleet: FleetSpec) -> list[str]:
        contexts = set(self.kubectl.contexts(self.kubeconfig_path))
        return [c.name for c in fleet.clusters if c.context in contexts]

    def kubeconfig(self, fleet: FleetSpec, cluster: str, *, internal: bool = False) -> str:
        """The context as a standalone kubeconfig; an existing cluster has one address only."""
        return self.kubectl.view(self.kubeconfig_path, fleet.cluster(cluster).context)

    def load_image(self, fleet: FleetSpec, cluster: str, image: str) -> None:
        raise UsageError(
            "provider existing cannot load images into a cluster",
            hint="push the image to a registry your clusters pull from",
        )

    def _states(self, cluster: Cluster) -> list[NodeState]:
        return self.kubectl.nodes(self.kubeconfig_path, cluster.context)

    def nodes(self, fleet: FleetSpec, cluster: str) -> list[NodeInfo]:
        return [_node(s) for s in self._states(fleet.cluster(cluster))]

    def endpoint(self, cluster: Cluster) -> str | None:
        config = kc.parse(self.kubectl.view(self.kubeconfig_path, cluster.context))
        return kc.server(config, cluster.context)

    def status(self, fleet: FleetSpec, cluster: Cluster) -> ClusterStatus:
        try:
            server, notes = self.check(cluster)
            nodes = [_node(s) for s in self._states(cluster)]
            endpoint = self.endpoint(cluster)
        except (CommandError, PrerequisiteError) as exc:
            return ClusterStatus(
                name=cluster.name,
                role=cluster.role,
                exists=False,
                ready=False,
                message=exc.message.splitlines()[0],
                context=cluster.context,
                provider=self.name,
            )
        waiting = [n.name for n in nodes if not n.ready]
        return ClusterStatus(
            name=cluster.name,
            role=cluster.role,
            exists=True,
            ready=bool(nodes) and not waiting,
            endpoint=endpoint,
            kubernetes_version=server,
            nodes=nodes,
            message="; ".join(([f"not Ready: {', '.join(waiting)}"] if waiting else []) + notes),
            context=cluster.context,
            provider=self.name,
        )

    def hub_access(self, fleet: FleetSpec) -> HubAccess | None:
        return None  # the platform is deployed onto the clusters: `deploy` saved its access

    def run_logs(
        self, fleet: FleetSpec, spoke: Cluster, workload: str, generation: int, stream: str
    ) -> str:
        path = self.kubeconfig_path
        return self.kubectl.run_logs(path, spoke.context, workload, generation, stream)

    def follow_logs(
        self,
        fleet: FleetSpec,
        spoke: Cluster,
        workload: str,
        generation: int,
        stream: str,
        *,
        tail: int | None,
        running: Callable[[], bool],
    ) -> None:
        """`kubectl logs --follow` of the run's Job: it ends with the container."""
        path = self.kubeconfig_path
        self.kubectl.follow_logs(path, spoke.context, workload, generation, stream, tail=tail)

    def wait_ready(self, fleet: FleetSpec, cluster: Cluster, timeout: float) -> None:
        self.kubectl.wait_nodes_ready(self.kubeconfig_path, cluster.context, (), timeout)

    def apply_manifest(self, fleet: FleetSpec, cluster: Cluster, manifest: str) -> None:
        self.kubectl.apply(self.kubeconfig_path, cluster.context, manifest)

    def wait_pods_ready(
        self, fleet: FleetSpec, cluster: Cluster, namespace: str, selector: str, timeout: float
    ) -> None:
        self.kubectl.wait_pods_ready(
            self.kubeconfig_path, cluster.context, namespace, selector, timeout
        )


def _node(state: NodeState) -> NodeInfo:
    return NodeInfo(
        name=state.name,
        role=",".join(state.roles) or "worker",
        ready=state.ready,
        kubernetes_version=state.kubelet_version,
        labels=dict(state.labels),
        address=state.internal_ip,
        message="" if state.ready else state.message,
    )
