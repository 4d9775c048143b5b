"""The provider interface: what the fleet facade needs from whatever runs a cluster.

Modelled on KIND's own `pkg/cluster/internal/providers/provider.go`: a handful of verbs
over one cluster at a time, so the fleet facade can run them in parallel, report each
cluster on its own line and clean up after a failure the same way for every provider.
One module per provider (`kind`, `existing`, `local`) implements it; `detect` picks one.

Providers label what they create (KIND: `io.x-k8s.kind.cluster`; kindfleet adds
`dev.kindfleet.fleet` and `dev.kindfleet.role`) and list by label, so no state file can
drift from what really exists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from kindfleet.errors import KindfleetError
from kindfleet.exec import Runner
from kindfleet.fleetspec.internal import Cluster, FleetSpec
from kindfleet.providers.preflight import PreflightOptions, Report

FLEET_LABEL = "dev.kindfleet.fleet"
ROLE_LABEL = "dev.kindfleet.role"


@dataclass(frozen=True)
class ProviderSettings:
    """What a provider is built with; every field has a working default.

    `kubeconfig` is the file the caller chose for contexts (the `existing` provider reads
    its clusters from it); `None` means kubectl's own rule. `env` is the environment the
    provider reads its overrides from (e.g. KIND_EXPERIMENTAL_DOCKER_NETWORK).
    """

    runner: Runner | None = None
    kubeconfig: Path | None = None
    env: Mapping[str, str] | None = None
    poll_seconds: float = 1.0
    state_dir: Path | None = None  # where fleets' state lives; None: $KINDFLEET_STATE_DIR...


@dataclass(frozen=True)
class Traits:
    """The class attributes of a provider, read with the protocol's defaults."""

    creates_hub_first: bool
    owns_clusters: bool
    manages_kubeconfig: bool
    runs_platform: bool


def traits(provider: object) -> Traits:
    return Traits(
        creates_hub_first=bool(getattr(provider, "creates_hub_first", False)),
        owns_clusters=bool(getattr(provider, "owns_clusters", True)),
        manages_kubeconfig=bool(getattr(provider, "manages_kubeconfig", False)),
        runs_platform=bool(getattr(provider, "runs_platform", False)),
    )


class ClusterExists(KindfleetError):
    """A cluster of that name appeared while this run created it (its create found it):
    somebody else's, never removed as a failed create of ours would be."""


def not_ours(provider: object, fleet: FleetSpec, name: str) -> str:
    """Why the existing cluster `name` is not this fleet's though the fleet names it, or ""
    (as far as the provider can tell: KIND names clusters machine-wide)."""
    found = getattr(provider, "not_ours", None)
    return str(found(fleet, name)) if callable(found) else ""


def strays(provider: object, fleet: FleetSpec) -> list[str]:
    """Clusters of the fleet that exist and that its file does not name (a spoke removed
    from the file, or one brought up from another fleet file of the same name), as far as
    the provider keeps a record of its fleets (the local runtime does; KIND names clusters
    machine-wide, with no record of the fleet that made them: none)."""
    found = getattr(provider, "strays", None)
    return sorted(found(fleet)) if callable(found) else []


@dataclass(frozen=True)
class Availability:
    """Whether a provider can work here; when not, why and how to fix it."""

    ok: bool
    reason: str = ""
    fix: str = ""
    versions: Mapping[str, str] = field(default_factory=dict)  # tool -> version found


@dataclass(frozen=True)
class NodeInfo:
    name: str
    role: str  # control-plane | worker | external-load-balancer | hub | spoke
    ready: bool | None = None  # None: not known (no API server asked)
    kubernetes_version: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    memory_bytes: int | None = None  # resident memory of the node container / process
    address: str | None = None
    state: str | None = None  # container / process state: running, exited, ...
    message: str = ""  # why it is not ready, when known


@dataclass(frozen=True)
class ClusterStatus:
    name: str
    role: str  # hub | spoke
    exists: bool
    ready: bool
    endpoint: str | None = None  # API server (kind, existing) or hub URL (local)
    kubernetes_version: str | None = None
    nodes: Sequence[NodeInfo] = ()
    message: str = ""
    context: str | None = None  # kubeconfig context
    provider: str | None = None
    # Why only making it anew can help (kind: node containers gone, an API server never
    # set up); `up` then deletes and creates it instead of repairing it. "" otherwise.
    broken: str = ""
    # How it runs otherwise than the fleet file now says (local: a spoke's labels or
    # capacity, edited since it was made); `up` says so and how to make it anew. "" if not.
    drift: str = ""
    # Why it is not this fleet's though it has one of its clusters' names (kind: made with
    # plain `kind create`, or by another fleet file); `up` and `down` leave it alone.
    foreign: str = ""


@dataclass(frozen=True)
class RegistryStatus:
    name: str
    exists: bool
    running: bool
    endpoint: str  # what `docker push` on the host uses
    internal_endpoint: str  # what the nodes pull from, on the cluster network
    networks: Sequence[str] = ()
    image: str | None = None


@dataclass(frozen=True)
class HubAccess:
    """How this machine reaches the fleet's hub, and with which client token."""

    url: str
    token: str


@dataclass(frozen=True)
class CreateOptions:
    """What `up` passes to each cluster's creation."""

    kind_config: Mapping[str, Any] | None = None  # rendered KIND config (kind provider)
    kubeconfig: Path | None = None  # where this cluster's kubeconfig goes while creating
    wait_seconds: float = 300.0
    retain_on_failure: bool = False  # keep what a failed creation made (logs, --retain)
    report: Callable[[str], None] | None = None  # notes for the person watching progress


@runtime_checkable
class Provider(Protocol):
    """The verbs every provider has. Optional abilities are the protocols below it.

    The class attributes describe a provider to the fleet orchestration; a provider that
    leaves one out gets the default written here (the orchestration reads them with these
    defaults, so subclassing this protocol is recommended but not required). A provider is
    built by `detect` with `cls.from_settings(settings)` when it has that classmethod,
    else with `cls()`.
    """

    name: ClassVar[Literal["kind", "existing", "local"]]
    # The hub is made (and ready) before any spoke starts: spokes need the hub's address.
    creates_hub_first: ClassVar[bool] = False
    # `down` deletes the clusters; False (existing clusters): `down` leaves them alone.
    owns_clusters: ClassVar[bool] = True
    # `up` merges each cluster's kubeconfig into the caller's file, `down` removes it.
    manages_kubeconfig: ClassVar[bool] = False
    # The provider runs the platform itself (the local runtime): there is nothing to deploy.
    runs_platform: ClassVar[bool] = False

    def availability(self) -> Availability:
        """Cheap check that the tools this provider drives are present and working."""
        ...

    def preflight(self, fleet: FleetSpec, options: PreflightOptions) -> Report:
        """Everything on this machine that would make `up` fail half-way, every problem at
        once, each with its fix; a failed check is a finding, not an exception."""
        ...

    def create(self, fleet: FleetSpec, cluster: Cluster, options: CreateOptions) -> None:
        """Make `cluster` exist and be ready; on failure leave nothing half-made (unless
        `retain_on_failure`) and raise `KindfleetError` with the exact command and output."""
        ...

    def delete(self, fleet: FleetSpec, cluster: str) -> None:
        """Remove every trace of the cluster; a cluster that does not exist is not an error."""
        ...

    def list_clusters(self, fleet: FleetSpec) -> list[str]:
        """Names of this fleet's clusters that exist now, found by label."""
        ...

    def status(self, fleet: FleetSpec, cluster: Cluster) -> ClusterStatus: ...

    def kubeconfig(self, fleet: FleetSpec, cluster: str, *, internal: bool = False) -> str:
        """Kubeconfig text for the cluster; `internal`: reachable from the other clusters."""
        ...

    def load_image(self, fleet: FleetSpec, cluster: str, image: str) -> None: ...

    def nodes(self, fleet: FleetSpec, cluster: str) -> list[NodeInfo]: ...

    def hub_access(self, fleet: FleetSpec) -> HubAccess | None:
        """How to reach the hub when the provider runs it itself (the local runtime); None
        when the platform was deployed onto the clusters (`deploy` saved its access)."""
        ...

    def run_logs(
        self, fleet: FleetSpec, spoke: Cluster, workload: str, generation: int, stream: str
    ) -> str:
        """One run's log, read on the spoke that ran it: logs never travel through the hub.
        `stream` is `stdout` or `stderr`; a run or log that is not there is a `UsageError`."""
        ...

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
        """One run's log (`tail`: its last lines) on this process's stdout, then what the
        run writes, until it ends (`running()` says when, where the spoke cannot)."""
        ...


@runtime_checkable
class WaitsForReady(Protocol):
    """A provider whose `create` returns before the cluster is ready (KIND with a CNI to add)."""

    def wait_ready(self, fleet: FleetSpec, cluster: Cluster, timeout: float) -> None:
        """Return once every node is Ready; raise `KindfleetError` saying which are not."""
        ...


@runtime_checkable
class StartsNodes(Protocol):
    """A provider whose clusters' nodes can be stopped and started again (KIND's node
    containers after an engine restart, a reboot, Docker Desktop quit)."""

    def start_nodes(self, fleet: FleetSpec, cluster: Cluster) -> list[str]:
        """Start the cluster's stopped nodes; the names of those started."""
        ...


@runtime_checkable
class Rejoins(Protocol):
    """A provider whose spokes are ready only in their hub's eyes (the local runtime): a
    spoke left running while its hub was down is waited for until the hub hears it."""

    def wait_rejoined(self, fleet: FleetSpec, cluster: Cluster, timeout: float) -> str:
        """Return what the hub now says of the spoke; raise `KindfleetError` with the
        spoke's own account of why it is not heard (its process is never stopped)."""
        ...


@runtime_checkable
class KeepsData(Protocol):
    """A provider whose stopped cluster keeps its data (the local runtime: a hub's store, a
    spoke's journal), so that `up` starts it again rather than making it: an interrupt or a
    failure then leaves it as found, never deletes what it holds."""

    def has_data(self, fleet: FleetSpec, cluster: Cluster) -> bool:
        """The cluster's data is there (whether or not it runs)."""
        ...


@runtime_checkable
class AppliesManifests(Protocol):
    """A provider whose clusters have a Kubernetes API that kindfleet may apply objects to."""

    def apply_manifest(self, fleet: FleetSpec, cluster: Cluster, manifest: str) -> None:
        """Server-side apply of a (multi-document) YAML manifest."""
        ...

    def wait_pods_ready(
        self, fleet: FleetSpec, cluster: Cluster, namespace: str, selector: str, timeout: float
    ) -> None:
        """Return once at least one pod matches and every matching pod is Ready."""
        ...


@runtime_checkable
class PreloadsImages(Protocol):
    """A provider that can put images into a cluster's nodes from this machine, so that a
    fleet's nodes do not each pull the same image from a registry (rate limits)."""

    def preload_images(
        self, fleet: FleetSpec, cluster: Cluster, images: Sequence[str]
    ) -> list[str]:
        """Get each image onto this machine (pulled once per provider, not per cluster) and
        into the cluster's nodes. An image that cannot be had is left for the nodes to pull:
        returns one warning per such image, never raises for it."""
        ...


@runtime_checkable
class ExportsLogs(Protocol):
    """A provider that can gather what a cluster logged into a directory (kind: `kind export
    logs`, the nodes' journals, kubelet, containerd and pod logs; the local runtime: the
    hub's or agent's process log), for a person to read after something failed."""

    def export_logs(self, fleet: FleetSpec, cluster: Cluster, directory: Path) -> list[str]:
        """Write the cluster's logs under `directory` (made if missing); returns what could
        not be had, one line each. Best effort: never raises for a log it cannot get."""
        ...


@runtime_checkable
class Tidies(Protocol):
    """A provider with shared leftovers to remove once a fleet is down (KIND's network)."""

    def tidy(self, fleet: FleetSpec) -> list[str]:
        """Remove what nothing uses any more; says what was removed."""
        ...


@runtime_checkable
class HostsRegistry(Protocol):
    """A provider that can run the fleet's local image registry and wire clusters to it."""

    def ensure_registry(self, fleet: FleetSpec) -> bool:
        """Make the registry exist and run; True when it was created by this call."""
        ...

    def connect_registry(self, fleet: FleetSpec, cluster: Cluster) -> None:
        """Put the registry on the cluster network and point every node's runtime at it."""
        ...

    def delete_registry(self, fleet: FleetSpec) -> bool:
        """Remove the registry; True when there was one."""
        ...

    def registry_status(self, fleet: FleetSpec) -> RegistryStatus | None: ...


# --- faults (issue 12): what a provider can break in one cluster, and how it undoes it ---

FAULT_ACTIONS = ("stop", "pause", "kill", "partition", "slow")
FaultAction = Literal["stop", "pause", "kill", "partition", "slow"]


@dataclass(frozen=True)
class FaultSpec:
    """One fault to inject. `latency_ms` and `loss_percent` matter to `slow` only.

    - stop: the cluster's nodes (the local runtime: its process) stopped; clearing starts
      them again and waits until the cluster is Ready;
    - pause: the nodes (processes) frozen, nothing in them runs;
    - kill: the platform's agent (orchestrator), or the hub, killed with no grace and kept
      down; clearing brings it back;
    - partition: the spoke cut off from the hub only (packets dropped: connections hang,
      nothing is refused); on the hub, every spoke cut off from it;
    - slow: latency and loss between the spoke (every spoke, on the hub) and the hub.
    """

    action: FaultAction
    cluster: str
    latency_ms: int = 200
    loss_percent: float = 0.0

    def describe(self) -> str:
        if self.action == "slow":
            return f"slow ({self.latency_ms} ms, {self.loss_percent:g}% loss)"
        return self.action


class FaultUnsupported(KindfleetError):
    """Raised by `inject_fault` when the cluster turns out not to allow the fault (found
    only by trying, e.g. a node whose network tools are not permitted), having changed
    nothing: the fault is refused, not recorded."""

    exit_code = 2


@runtime_checkable
class InjectsFaults(Protocol):
    """A provider that can inject faults into its clusters. A provider without it refuses
    every fault; one with it may still refuse some actions on some clusters, with why.

    `inject_fault` returns what `clear_fault` will need to undo it (plain JSON data that
    the fleet keeps in its fault records, so another process can clear it later).
    `clear_fault` is idempotent and works from the spec alone when `undo` is empty (a
    command killed half-way through an injection recorded nothing to undo with).
    """

    def fault_refusal(self, fleet: FleetSpec, cluster: Cluster, action: str) -> str | None:
        """None when `action` can be done to `cluster`, else the reason it cannot."""
        ...

    def inject_fault(
        self, fleet: FleetSpec, cluster: Cluster, fault: FaultSpec
    ) -> dict[str, Any]: ...

    def clear_fault(
        self, fleet: FleetSpec, cluster: Cluster, fault: FaultSpec, undo: Mapping[str, Any]
    ) -> None: ...


# --- end faults (issue 12) ---------------------------------------------------------------


# --- checks (issue 12): what the isolation suite asks of a spoke -------------------------


@runtime_checkable
class ProbesSpokes(Protocol):
    """A provider that can hand the isolation suite what a spoke holds."""

    def spoke_credential(self, fleet: FleetSpec, spoke: Cluster) -> str:
        """The spoke's own hub credential, as its agent keeps it (to prove its reach)."""
        ...

    def hub_address_inside(self, fleet: FleetSpec, spoke: Cluster) -> tuple[str, int] | None:
        """(host, port) of the hub as the spoke dials it; None when workloads share this
        machine's network (nothing to probe)."""
        ...


# --- end checks (issue 12) ---------------------------------------------------------------
