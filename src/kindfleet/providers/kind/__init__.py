"""The `kind` provider: each cluster of the fleet is a KIND cluster.

It drives the `kind` CLI for what KIND has verbs for (create, delete, get, load) and
Docker for the rest (the fleet's registry container, the kind network, node containers'
state and memory), and kubectl for what it asks the API (nodes Ready, apply). The
commands themselves, and the reading of what comes back, are values in `kindcli`.

KIND is never allowed near the user's kubeconfig: every `kind create` and `kind delete`
gets a kubeconfig file of its own (parallel creates into one file race on its lock,
kind#1425), and the fleet orchestration merges the contexts where the caller asked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar, Literal

from kindfleet import scratch
from kindfleet.errors import KindfleetError
from kindfleet.exec import Command, CommandError, CommandNotFound, ProcessRunner
from kindfleet.fleetspec.internal import Cluster, FleetSpec
from kindfleet.providers.base import (
    AppliesManifests,
    Availability,
    ClusterExists,
    ClusterStatus,
    CreateOptions,
    ExportsLogs,
    HubAccess,
    NodeInfo,
    Provider,
    ProviderSettings,
    Tidies,
    WaitsForReady,
)
from kindfleet.providers.kind import docker as dk
from kindfleet.providers.kind import preflight
from kindfleet.providers.kind.engine import EngineAwareRunner, EngineDown
from kindfleet.providers.kind.faults import KindFaults  # faults (issue 12)
from kindfleet.providers.kind.kindcli import (
    ALREADY_EXISTS,
    CLUSTER_LABEL,
    DEFAULT_NETWORK,
    INSTALL_KIND,
    KIND,
    NETWORK_ENV,
    NODE_ROLE_LABEL,
    PORT_TAKEN,
    PORT_TRIES,
    api_endpoint,
    cluster_status,
    context_name,
    create_cmd,
    delete_cmd,
    expected_containers,
    export_logs_cmd,
    get_clusters_cmd,
    get_kubeconfig_cmd,
    load_image_cmd,
    node_info,
    node_order,
    parse_version,
    version_cmd,
)
from kindfleet.providers.kind.preload import ImagePreloader
from kindfleet.providers.kind.registry import KindRegistry
from kindfleet.providers.kubectl import Kubectl
from kindfleet.providers.kubectl.parsing import NodeState
from kindfleet.providers.preflight import PreflightOptions, Report
from kindfleet.render.kindconfig import render_cluster, to_yaml
from kindfleet.statedir import fleet_dir, write_private

# --- provider ------------------------------------------------------------------------


NO_KUBECONFIG = "no kubeconfig: kind found no admin.conf in the control plane"
CREATED_MARK = "/kind/kindfleet-created"  # written once `kind create` finished
_FOR_FLEET = " for fleet "  # in the mark: "<cluster> created by kindfleet for fleet <name>"
RECORDS = "kind-clusters"  # <fleet state>/kind-clusters/<cluster>: this fleet's `up` made it


class KindProvider(
    KindFaults,
    KindRegistry,
    ImagePreloader,
    Provider,
    WaitsForReady,
    AppliesManifests,
    ExportsLogs,
    Tidies,
):
    name: ClassVar[Literal["kind", "existing", "local"]] = "kind"
    manages_kubeconfig: ClassVar[bool] = True

    @classmethod
    def from_settings(cls, settings: ProviderSettings) -> KindProvider:
        return cls(settings)

    def __init__(
        self, settings: ProviderSettings | None = None, *, probes: preflight.Probes | None = None
    ) -> None:
        settings = settings or ProviderSettings()
        self.runner = EngineAwareRunner(settings.runner or ProcessRunner())
        env = settings.env if settings.env is not None else os.environ
        self.probes = probes or preflight.SystemProbes(self.runner, env=env)
        self.network = env.get(NETWORK_ENV) or DEFAULT_NETWORK
        self.docker = dk.Docker(self.runner)
        self.kubectl = Kubectl(self.runner, poll_seconds=settings.poll_seconds)
        self._network_lock = threading.Lock()
        self._pull_lock = threading.Lock()
        self._pulled: dict[str, str | None] = {}
        self._network_seen = False
        self._network_first: threading.Event | None = None
        self.poll_seconds = settings.poll_seconds / 4
        self.state_dir = settings.state_dir

    # -- availability -----------------------------------------------------------------

    def availability(self) -> Availability:
        versions: dict[str, str] = {}
        try:
            versions[KIND] = parse_version(self.runner.run(version_cmd()).stdout) or "unknown"
        except CommandNotFound:
            return Availability(False, "kind not found on PATH", INSTALL_KIND)
        try:
            info = self.docker.info()
        except CommandNotFound:
            return Availability(False, "docker not found on PATH", "install Docker Engine")
        except CommandError as exc:
            return Availability(False, f"Docker engine not reachable: {exc.output}", "start Docker")
        versions["docker"] = str(info.get("ServerVersion", "unknown"))
        return Availability(True, versions=versions)

    def preflight(self, fleet: FleetSpec, options: PreflightOptions) -> Report:
        return preflight.run(fleet, self.probes, options, network=self.network)

    # -- clusters ---------------------------------------------------------------------

    def _network_turn(self) -> threading.Event | None:
        """Wait for the kind network before `kind create`, unless this caller makes it.

        Parallel first creates on a machine without the network each create one, and the
        same-named networks break every create ("network kind is ambiguous", kind#1596,
        when the daemon has no IPv6). So the first create goes alone until the network
        exists; the event it gets back is set when its create ends.
        """
        with self._network_lock:
            if self._network_seen:
                return None
            if self.docker.network(self.network) is not None:
                self._network_seen = True
                return None
            if self._network_first is None:
                self._network_first = threading.Event()
                return self._network_first
            first = self._network_first
        while not first.is_set() and self.docker.network(self.network) is None:
            time.sleep(self.poll_seconds)
        return None

    def create(self, fleet: FleetSpec, cluster: Cluster, options: CreateOptions) -> None:
        with self._network_use(fleet, exclusive=False):  # no fleet's `down` removes it now
            self._create_on_network(fleet, cluster, options)

    def _create_on_network(
        self, fleet: FleetSpec, cluster: Cluster, options: CreateOptions
    ) -> None:
        mine = self._network_turn()
        if mine is not None:  # kind makes the network with this create: the fleet's to remove
            write_private(self._network_record(fleet), f"{self.network}\n")
        try:
            self._create(fleet, cluster, options)
        finally:
            if mine is not None:
                with self._network_lock:
                    self._network_first = None
                mine.set()

    def _create(self, fleet: FleetSpec, cluster: Cluster, options: CreateOptions) -> None:
        config = options.kind_config or render_cluster(cluster, fleet.registry)
        write_private(self._record(fleet, cluster.name), "creating\n")
        with _kubeconfig_target(options.kubeconfig) as kubeconfig:
            command = create_cmd(
                cluster.name, to_yaml(config), kubeconfig, retain=options.retain_on_failure
            )
            try:
                self._run_create(command, retain=options.retain_on_failure)
            except EngineDown:
                raise  # the engine's own words and fix: not kind's failure to create
            except CommandError as exc:
                if ALREADY_EXISTS in exc.output:
                    self._record(fleet, cluster.name).unlink(missing_ok=True)
                    raise ClusterExists(
                        f"a KIND cluster named {cluster.name} appeared while this run created "
                        "it: somebody else's, left alone",
                        hint=f"give the cluster another name in the fleet file, or remove it "
                        f"yourself if it is not needed (kind delete cluster --name {cluster.name})",
                    ) from None
                raise CommandError(
                    exc.result,
                    what=f"kind could not create {cluster.name}",
                    hint=(
                        "re-run `kindfleet up --logs-dir DIR` to keep its logs (or --retain "
                        f"to keep its nodes, then `kindfleet logs export -c {cluster.name}`)"
                    ),
                ) from None
        self._mark_created(fleet, cluster)

    def _run_create(self, command: Command, *, retain: bool) -> None:
        """`kind create cluster`, again (at most PORT_TRIES in all) when Docker refused a host
        port kind had chosen free: kind asks for a free port, closes it, and something else
        (another cluster's creation, a test's server) may bind it before Docker does; kind
        removed the node it began and chooses anew. Not with `--retain` (that node stays)."""
        for attempt in range(1, PORT_TRIES + 1):
            try:
                self.runner.run(command)
                return
            except CommandError as exc:
                if PORT_TAKEN not in exc.output or retain or attempt == PORT_TRIES:
                    raise

    def _mark_created(self, fleet: FleetSpec, cluster: Cluster) -> None:
        """kind finished creating the cluster: say so, and for which fleet, inside its
        first control plane. A cluster of ours that is not ready and lacks the mark is one
        a killed or interrupted run left half-made (kind's own steps after kubeadm init
        never ran): `up` makes it anew rather than waiting on nodes that never turn Ready."""
        node = cluster.control_planes[0].name
        mark = f"{cluster.name} created by kindfleet{_FOR_FLEET}{fleet.name}\n"
        self.docker.write_file(node, CREATED_MARK, mark)
        write_private(self._record(fleet, cluster.name), "created\n")

    def _mark(self, cluster: str) -> str | None:
        """The mark's text inside the cluster's first control plane, None without one (or
        when that node is not running: `docker exec` cannot look)."""
        node = f"{cluster}-control-plane"
        result = self.runner.run(dk.exec_cmd(node, ["cat", CREATED_MARK]), check=False)
        return result.stdout if result.ok else None

    def _created(self, cluster: Cluster) -> bool:
        return self._mark(cluster.name) is not None

    def _recorded(self, fleet: FleetSpec, cluster: Cluster) -> bool:
        """Whether this machine's record says kind finished creating it: what is left to go
        by when its nodes are stopped (the mark inside cannot be read then)."""
        try:
            return self._record(fleet, cluster.name).read_text() == "created\n"
        except OSError:
            return False

    def _record(self, fleet: FleetSpec, cluster: str) -> Path:
        return fleet_dir(fleet.name, self.state_dir) / RECORDS / cluster

    def not_ours(self, fleet: FleetSpec, name: str) -> str:
        """Why the KIND cluster `name` is not this fleet's, or "": kind names clusters
        machine-wide, and a user's own `kind create cluster --name X`, or another fleet
        file's cluster X, was taken over by `up` (wired to this registry, made anew when
        not Ready) and deleted by `down`. Ours: this fleet's `up` began it (on record in its
        state), or its mark names this fleet (or no fleet: made before marks did)."""
        if self._record(fleet, name).exists():
            return ""
        mark = self._mark(name)
        if mark is not None:
            other = mark.partition(_FOR_FLEET)[2].strip()
            return f"made by kindfleet for fleet {other}" if other and other != fleet.name else ""
        if any(c.running for c in self._containers(name)):
            return "not made by kindfleet (plain `kind create cluster`?)"
        return "not on this fleet's record, and stopped: kindfleet cannot tell whose it is"

    def delete(self, fleet: FleetSpec, cluster: str) -> None:
        with scratch.folder("kind") as tmp:
            self.runner.run(delete_cmd(cluster, Path(tmp) / "kubeconfig"))
        self._record(fleet, cluster).unlink(missing_ok=True)

    def list_clusters(self, fleet: FleetSpec) -> list[str]:
        found = set(self.runner.run(get_clusters_cmd()).stdout.split())
        return [c.name for c in fleet.clusters if c.name in found]

    def kubeconfig(self, fleet: FleetSpec, cluster: str, *, internal: bool = False) -> str:
        try:
            return self.runner.run(get_kubeconfig_cmd(cluster, internal=internal)).stdout
        except EngineDown:
            raise
        except CommandError as exc:
            raise CommandError(
                exc.result,
                what=f"no kubeconfig for {cluster}",
                hint="is the cluster up? `kindfleet status` shows what exists",
            ) from None

    def load_image(self, fleet: FleetSpec, cluster: str, image: str) -> None:
        self.runner.run(load_image_cmd(cluster, image))

    def _containers(self, cluster: str) -> list[dk.Container]:
        names = self.docker.names(labels={CLUSTER_LABEL: cluster})
        return sorted(self.docker.inspect(*names), key=node_order)

    @contextlib.contextmanager
    def _api(self, cluster: str) -> Iterator[Path]:
        """A private kubeconfig file for kubectl calls to this cluster."""
        text = self.kubeconfig_text_or_none(cluster)
        if text is None:
            raise KindfleetError(NO_KUBECONFIG)
        with _private_file(text) as path:
            yield path

    def kubeconfig_text_or_none(self, cluster: str) -> str | None:
        result = self.runner.run(get_kubeconfig_cmd(cluster), check=False)
        return result.stdout if result.ok and result.stdout.strip() else None

    def _api_nodes(self, cluster: str) -> tuple[dict[str, NodeState] | None, str]:
        try:
            with self._api(cluster) as path:
                states = self.kubectl.nodes(path, context_name(cluster))
        except CommandError as exc:
            return None, f"API not answering: {_last_line(exc.output)}"
        except KindfleetError as exc:
            return None, exc.message
        return {s.name: s for s in states}, ""

    def nodes(self, fleet: FleetSpec, cluster: str) -> list[NodeInfo]:
        return self._nodes(cluster)[0]

    def _nodes(self, cluster: str) -> tuple[list[NodeInfo], list[dk.Container], str]:
        containers = self._containers(cluster)
        if not containers:
            return [], [], ""
        memory = self.docker.memory(*(c.name for c in containers if c.running))
        api, problem = (
            self._api_nodes(cluster) if any(c.running for c in containers) else (None, "")
        )
        infos = [
            node_info(c, (api or {}).get(c.name), memory.get(c.name), self.network)
            for c in containers
        ]
        return infos, containers, problem

    def status(self, fleet: FleetSpec, cluster: Cluster) -> ClusterStatus:
        nodes, containers, problem = self._nodes(cluster.name)
        if not containers:
            return cluster_status(cluster, exists=False, ready=False, message="not created")
        foreign = self.not_ours(fleet, cluster.name)
        if foreign:
            return cluster_status(
                cluster,
                exists=True,
                ready=False,
                nodes=nodes,
                message=f"not this fleet's ({foreign}): left alone",
                foreign=foreign,
            )
        ready, message, broken = self._diagnose(fleet, cluster, nodes, containers, problem)
        roles = {c.labels.get(NODE_ROLE_LABEL): c for c in reversed(containers)}
        front = roles.get("external-load-balancer") or roles.get("control-plane")
        versions = [n.kubernetes_version for n in nodes if n.kubernetes_version]
        return cluster_status(
            cluster,
            exists=True,
            ready=ready,
            endpoint=api_endpoint(front) if front else None,
            kubernetes_version=versions[0] if versions else None,
            nodes=nodes,
            message=message,
            broken=broken,
        )

    def _diagnose(
        self,
        fleet: FleetSpec,
        cluster: Cluster,
        nodes: list[NodeInfo],
        containers: list[dk.Container],
        problem: str,
    ) -> tuple[bool, str, str]:
        """(ready, what is wrong, why only making it anew helps)."""
        stopped = [c.name for c in containers if not c.running]
        waiting = sorted({n.name for n in cluster.nodes} - {n.name for n in nodes if n.ready})
        missing = sorted(expected_containers(cluster) - {c.name for c in containers})
        if missing:
            why = f"node containers missing: {', '.join(missing)}"
            return False, why, why
        if problem == NO_KUBECONFIG and not stopped:
            why = "its API server was never set up (kind create did not finish)"
            return False, why, why
        if not stopped and not waiting and not problem:
            return True, "", ""
        # Stopped nodes are started by `up` (a repair), unless the cluster is half-made.
        message = f"stopped: {', '.join(stopped)}" if stopped else problem
        message = message or f"not Ready: {', '.join(waiting)}"
        if not self._created(cluster) and not (stopped and self._recorded(fleet, cluster)):
            why = "kind create did not finish (a killed or interrupted run)"
            return False, f"{message}; {why}", why
        return False, message, ""

    def start_nodes(self, fleet: FleetSpec, cluster: Cluster) -> list[str]:
        """`docker start` the cluster's stopped node containers (an engine restart leaves
        them Exited: kind's restart policy is on-failure), load balancer first."""
        stopped = [c.name for c in self._containers(cluster.name) if not c.running]
        stopped.sort(key=lambda name: not name.endswith("-external-load-balancer"))
        for name in stopped:
            self.docker.start(name)
        return stopped

    def wait_ready(self, fleet: FleetSpec, cluster: Cluster, timeout: float) -> None:
        with self._api(cluster.name) as path:
            expected = [n.name for n in cluster.nodes]
            self.kubectl.wait_nodes_ready(path, context_name(cluster.name), expected, timeout)

    # -- manifests --------------------------------------------------------------------

    def apply_manifest(self, fleet: FleetSpec, cluster: Cluster, manifest: str) -> None:
        with self._api(cluster.name) as path:
            self.kubectl.apply(path, context_name(cluster.name), manifest)

    def wait_pods_ready(
        self, fleet: FleetSpec, cluster: Cluster, namespace: str, selector: str, timeout: float
    ) -> None:
        with self._api(cluster.name) as path:
            context = context_name(cluster.name)
            self.kubectl.wait_pods_ready(path, context, namespace, selector, timeout)

    # -- the platform on it -----------------------------------------------------------

    def hub_access(self, fleet: FleetSpec) -> HubAccess | None:
        return None  # the platform is deployed onto the clusters: `deploy` saved its access

    def run_logs(
        self, fleet: FleetSpec, spoke: Cluster, workload: str, generation: int, stream: str
    ) -> str:
        with self._api(spoke.name) as path:
            context = context_name(spoke.name)
            return self.kubectl.run_logs(path, context, workload, generation, stream)

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
        with self._api(spoke.name) as path:
            context = context_name(spoke.name)
            self.kubectl.follow_logs(path, context, workload, generation, stream, tail=tail)

    # -- when something failed ----------------------------------------------------------

    def export_logs(self, fleet: FleetSpec, cluster: Cluster, directory: Path) -> list[str]:
        """`kind export logs`: every node's journal, kubelet, containerd, pod and container
        logs, its inspect and image list, the way kind's own CI collects them."""
        directory.mkdir(parents=True, exist_ok=True)
        try:
            self.runner.run(export_logs_cmd(cluster.name, directory))
        except CommandError as exc:
            return [f"kind export logs: {_last_line(exc.output)}"]
        return []

    # -- after down -------------------------------------------------------------------

    def _network_record(self, fleet: FleetSpec) -> Path:
        """Where it is written that kindfleet (a `kind create` of any fleet's `up`) made the
        network: beside the fleets' state, so that whichever fleet goes down last removes it."""
        return fleet_dir(fleet.name, self.state_dir).parent / ".kind-networks" / self.network

    def tidy(self, fleet: FleetSpec) -> list[str]:
        """Remove the kind network once nothing at all is on it, if kindfleet made it; what
        was removed. One that was there before (the user's own, given as KIND's
        network, or kind's made by another cluster's create) is not the fleet's: removing
        it broke a `kind create` running meanwhile ("network not found")."""
        record = self._network_record(fleet)
        if not record.exists():
            return []
        with self._network_use(fleet, exclusive=True, wait=False) as alone:
            if not alone:  # another fleet's `up` is creating on it: the last down removes it
                return []
            removed = self.docker.remove_network_if_unused(self.network)
            if removed or self.docker.network(self.network) is None:
                record.unlink(missing_ok=True)
        if removed:
            with self._network_lock:
                self._network_seen = False
        return [f"network {self.network}"] if removed else []

    @contextlib.contextmanager
    def _network_use(
        self, fleet: FleetSpec, *, exclusive: bool, wait: bool = True
    ) -> Iterator[bool]:
        """A lock on the kind network, beside its record and shared by every fleet of this
        state root: each `kind create` holds it shared until its nodes are on the network,
        a `down` that would remove the network takes it alone, or not at all. "Unused" was
        judged from the containers on it: another fleet's create, between its look at the
        network and its first node, was not seen, and failed ("network kind not found")."""
        path = self._network_record(fleet).with_name(f"{self.network}.lock")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            how = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if wait else fcntl.LOCK_NB)
            try:
                fcntl.flock(fd, how)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)


# --- helpers -------------------------------------------------------------------------


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


@contextlib.contextmanager
def _private_file(text: str) -> Iterator[Path]:
    with scratch.folder("kind") as tmp:
        path = Path(tmp) / "kubeconfig"
        path.touch(mode=0o600)
        path.write_text(text, encoding="utf-8")
        yield path


@contextlib.contextmanager
def _kubeconfig_target(path: Path | None) -> Iterator[Path]:
    """Where kind writes while creating: the caller's per-cluster file, or a throwaway one."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        yield path
        return
    with scratch.folder("kind") as tmp:
        yield Path(tmp) / "kubeconfig"
