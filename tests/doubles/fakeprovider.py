"""A provider that keeps its clusters in memory, behaving like KIND where it matters.

Calico clusters only turn Ready once a manifest with calico-node was applied (the way
`disableDefaultCNI` nodes wait for a CNI), creation writes a kind-style kubeconfig to the
file it is given, and a failed create leaves its nodes behind (as kind does when it is
killed or --retain'd), so the orchestration's cleanup is what removes them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import ClassVar

import yaml

from kindfleet.errors import KindfleetError
from kindfleet.exec import Interrupted
from kindfleet.fleetspec.internal import Cluster, FleetSpec
from kindfleet.providers.base import (
    AppliesManifests,
    Availability,
    ClusterExists,
    ClusterStatus,
    CreateOptions,
    HostsRegistry,
    NodeInfo,
    Provider,
    RegistryStatus,
    Tidies,
    WaitsForReady,
)
from kindfleet.providers.kind import preflight as kind_preflight
from kindfleet.providers.preflight import PreflightOptions, Report


def kind_kubeconfig(name: str, port: int = 6443) -> str:
    key = f"kind-{name}"
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": key, "cluster": {"server": f"https://127.0.0.1:{port}"}}],
            "users": [{"name": key, "user": {"token": "t"}}],
            "contexts": [{"name": key, "context": {"cluster": key, "user": key}}],
            "current-context": key,
        }
    )


class Interrupter:
    """Stands for the process runner: interrupting releases work blocked "in a command"."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.calls: list[str] = []

    def interrupt(self) -> None:
        self.calls.append("interrupt")
        self.stop.set()

    def resume(self) -> None:
        self.calls.append("resume")

    def block(self) -> None:
        """A long command: returns never, raises Interrupted once interrupted."""
        self.stop.wait(30)
        raise Interrupted("killed")


class GoodProbes:
    def docker_info(self):
        return {"ServerVersion": "28.1", "MemTotal": 64 * 2**30, "CgroupVersion": "2"}

    def kind_version(self):
        return "v0.33.0"

    def kubectl_version(self):
        return "v1.35.0"

    def sysctl(self, name):
        return 10**6

    def engine_is_local(self, info):
        return True

    def port_free(self, *args):
        return True

    def network_subnets(self, name):
        return None  # no such network yet: kind makes it


class FakeProvider(Provider, WaitsForReady, AppliesManifests, HostsRegistry, Tidies):
    name: ClassVar = "kind"  # type: ignore[misc]
    manages_kubeconfig: ClassVar[bool] = True

    def __init__(
        self,
        *,
        fail: dict[str, str] | None = None,
        existing: dict[str, bool] | None = None,
        on_create: Callable[[str], None] | None = None,
        probes: kind_preflight.Probes | None = None,
    ) -> None:
        self.probes = probes or GoodProbes()
        self.fail = fail or {}  # cluster -> step that fails: create, apply, wait, connect
        self.on_create = on_create
        self.lock = threading.Lock()
        self.log: list[tuple[str, ...]] = []
        self.clusters: dict[str, dict] = {
            name: {"ready": healthy, "calico": False, "cni": "kindnet"}
            for name, healthy in (existing or {}).items()
        }
        self.manifests: dict[str, list[str]] = {}
        self.registry: str | None = None  # None | "running" | "stopped"
        self.active = 0
        self.max_active = 0

    def record(self, *entry: str) -> None:
        with self.lock:
            self.log.append(entry)

    def steps(self, cluster: str) -> list[str]:
        return [e[0] for e in self.log if len(e) > 1 and e[1] == cluster]

    def availability(self) -> Availability:
        return Availability(True)

    def preflight(self, fleet: FleetSpec, options: PreflightOptions) -> Report:
        return kind_preflight.run(fleet, self.probes, options)

    def create(self, fleet: FleetSpec, cluster: Cluster, options: CreateOptions) -> None:
        self.record("create", cluster.name)
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.clusters[cluster.name] = {
                "ready": False,
                "calico": False,
                "cni": cluster.networking.cni,
            }
        try:
            if self.on_create:
                self.on_create(cluster.name)
            if self.fail.get(cluster.name) == "create":
                raise KindfleetError(f"kind could not create {cluster.name}: boom")
            if self.fail.get(cluster.name) == "exists":  # somebody made it meanwhile
                self.clusters[cluster.name]["foreign"] = "plain kind create"
                raise ClusterExists(f"a KIND cluster named {cluster.name} appeared")
            if options.kubeconfig is not None:
                options.kubeconfig.write_text(kind_kubeconfig(cluster.name))
            if options.report:
                options.report(f"{len(cluster.nodes)} nodes")
        finally:
            with self.lock:
                self.active -= 1

    def delete(self, fleet: FleetSpec, cluster: str) -> None:
        self.record("delete", cluster)
        with self.lock:
            self.clusters.pop(cluster, None)

    def list_clusters(self, fleet: FleetSpec) -> list[str]:
        return [c.name for c in fleet.clusters if c.name in self.clusters]

    def status(self, fleet: FleetSpec, cluster: Cluster) -> ClusterStatus:
        state = self.clusters.get(cluster.name)
        if state is None:
            return ClusterStatus(cluster.name, cluster.role, exists=False, ready=False)
        nodes = [NodeInfo(n.name, n.role, ready=state["ready"]) for n in cluster.nodes]
        broken = str(state.get("broken", ""))
        return ClusterStatus(
            cluster.name,
            cluster.role,
            True,
            state["ready"],
            nodes=nodes,
            broken=broken,
            foreign=self.not_ours(fleet, cluster.name),
        )

    def not_ours(self, fleet: FleetSpec, name: str) -> str:
        """Why a cluster of that name is somebody else's ("foreign" in its state)."""
        return str((self.clusters.get(name) or {}).get("foreign", ""))

    def kubeconfig(self, fleet: FleetSpec, cluster: str, *, internal: bool = False) -> str:
        return kind_kubeconfig(cluster, 6443 if internal else 40000)

    def load_image(self, fleet: FleetSpec, cluster: str, image: str) -> None:
        self.record("load", cluster, image)

    def nodes(self, fleet: FleetSpec, cluster: str) -> list[NodeInfo]:
        return list(self.status(fleet, fleet.cluster(cluster)).nodes)

    def wait_ready(self, fleet: FleetSpec, cluster: Cluster, timeout: float) -> None:
        self.record("wait", cluster.name)
        state = self.clusters[cluster.name]
        if self.fail.get(cluster.name) == "wait":
            raise KindfleetError(f"timed out after {timeout:g}s waiting for nodes Ready")
        if state["cni"] == "calico" and not state["calico"]:
            raise KindfleetError("nodes NotReady: cni plugin not initialized")
        state["ready"] = True

    def apply_manifest(self, fleet: FleetSpec, cluster: Cluster, manifest: str) -> None:
        self.record("apply", cluster.name)
        if self.fail.get(cluster.name) == "apply":
            raise KindfleetError("apply failed")
        with self.lock:
            self.manifests.setdefault(cluster.name, []).append(manifest)
        if "name: calico-node" in manifest:
            self.clusters[cluster.name]["calico"] = True

    def wait_pods_ready(
        self, fleet: FleetSpec, cluster: Cluster, namespace: str, selector: str, timeout: float
    ) -> None:
        self.record("pods", cluster.name, namespace, selector)

    def ensure_registry(self, fleet: FleetSpec) -> bool:
        self.record("ensure-registry")
        created = self.registry is None
        self.registry = "running"
        return created

    def connect_registry(self, fleet: FleetSpec, cluster: Cluster) -> None:
        self.record("connect", cluster.name)
        if self.fail.get(cluster.name) == "connect":
            raise KindfleetError("docker network connect failed")

    def delete_registry(self, fleet: FleetSpec) -> bool:
        self.record("delete-registry")
        had = self.registry is not None
        self.registry = None
        return had

    def registry_status(self, fleet: FleetSpec) -> RegistryStatus | None:
        if fleet.registry is None:
            return None
        return RegistryStatus(
            fleet.registry.name,
            exists=self.registry is not None,
            running=self.registry == "running",
            endpoint=fleet.registry.host_endpoint,
            internal_endpoint=fleet.registry.internal_endpoint,
        )

    def tidy(self, fleet: FleetSpec) -> list[str]:
        self.record("tidy")
        return ["network kind"]


class BareProvider:
    """The least a provider can be (as the local provider is): the base verbs, no optional
    abilities, and a hub that must come first."""

    name = "local"
    creates_hub_first = True
    runs_platform = True

    def __init__(self, fail: set[str] | None = None) -> None:
        self.running: list[str] = []
        self.order: list[str] = []
        self.fail = fail or set()

    def availability(self) -> Availability:
        return Availability(True)

    def preflight(self, fleet: FleetSpec, options: PreflightOptions) -> Report:
        return Report()

    def create(self, fleet: FleetSpec, cluster: Cluster, options: CreateOptions) -> None:
        self.order.append(cluster.name)
        if cluster.name in self.fail:
            raise KindfleetError(f"{cluster.name} exited while starting")
        if cluster.role == "spoke" and fleet.hub.name not in self.running:
            raise KindfleetError("the hub is not running")
        self.running.append(cluster.name)

    def delete(self, fleet: FleetSpec, cluster: str) -> None:
        if cluster in self.running:
            self.running.remove(cluster)

    def list_clusters(self, fleet: FleetSpec) -> list[str]:
        return list(self.running)

    def status(self, fleet: FleetSpec, cluster: Cluster) -> ClusterStatus:
        up = cluster.name in self.running
        return ClusterStatus(cluster.name, cluster.role, exists=up, ready=up)

    def kubeconfig(self, fleet: FleetSpec, cluster: str, *, internal: bool = False) -> str:
        raise KindfleetError("not Kubernetes: there is no kubeconfig")

    def load_image(self, fleet: FleetSpec, cluster: str, image: str) -> None:
        raise KindfleetError("not Kubernetes")

    def nodes(self, fleet: FleetSpec, cluster: str) -> list[NodeInfo]:
        return []
