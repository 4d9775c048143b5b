"""Faults on the local runtime, where a cluster is one process (the hub, or a spoke's
agent with its runs) and the network between a spoke and the hub is its link proxy:

- stop: the process stopped gracefully (SIGTERM, as a node's shutdown does), started
  again on clear and waited Ready;
- pause: the process and every descendant frozen (SIGSTOP; what `docker pause` does to a
  node's cgroup), thawed on clear (SIGCONT);
- kill: the process killed with no grace (SIGKILL) and kept down; started again on clear;
- partition / slow: the spoke's link proxy set to drop / delay traffic (on the hub: every
  spoke's), set back to pass on clear.
"""

from __future__ import annotations

import signal
from abc import abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import psutil

from kindfleet.errors import KindfleetError
from kindfleet.fleetspec.internal import Cluster, FleetSpec
from kindfleet.providers.base import FAULT_ACTIONS, CreateOptions, FaultSpec
from kindfleet.providers.local import link, processes

if TYPE_CHECKING:
    from kindfleet.providers.local import LocalLayout

RESTART_WAIT = 60.0


class LocalFaults:
    """The fault verbs of `LocalProvider` (a mixin: it uses the provider's layout and
    `create`)."""

    @abstractmethod
    def layout(self, fleet: FleetSpec | str) -> LocalLayout: ...

    @abstractmethod
    def create(self, fleet: FleetSpec, cluster: Cluster, options: CreateOptions) -> None: ...

    def fault_refusal(self, fleet: FleetSpec, cluster: Cluster, action: str) -> str | None:
        if action not in FAULT_ACTIONS:
            return f"{action!r} is not a fault"
        if action in ("partition", "slow") and not fleet.spokes:
            return "the fleet has no spokes to cut off from the hub"
        return None

    def link_files(self, fleet: FleetSpec, spoke: str) -> link.LinkFiles:
        return link.LinkFiles(self.layout(fleet).dir(spoke))

    def link_state(self, fleet: FleetSpec, spoke: str) -> link.LinkState:
        """What the spoke's link to the hub does now (mode, since when, held traffic)."""
        return link.state(spoke, self.link_files(fleet, spoke))

    def _links(self, fleet: FleetSpec, cluster: Cluster) -> list[str]:
        return [s.name for s in fleet.spokes] if cluster.role == "hub" else [cluster.name]

    def inject_fault(self, fleet: FleetSpec, cluster: Cluster, fault: FaultSpec) -> dict[str, Any]:
        pidfile = self.layout(fleet).pidfile(cluster.name)
        if fault.action in ("partition", "slow"):
            spokes = self._links(fleet, cluster)
            for spoke in spokes:
                link.set_mode(
                    self.link_files(fleet, spoke),
                    fault.action,
                    latency_ms=fault.latency_ms,
                    loss_percent=fault.loss_percent,
                )
            return {"spokes": spokes}
        handle = processes.running(pidfile)
        if handle is None:
            raise KindfleetError(
                f"{cluster.name} is not running: there is nothing to {fault.action}",
                hint="`kindfleet status` shows the fleet; `kindfleet up` starts what is down",
            )
        if fault.action == "stop":
            processes.stop(pidfile)
        elif fault.action == "kill":
            processes.kill(pidfile)
        else:  # pause
            frozen = _signal_tree(handle.pid, signal.SIGSTOP)
            return {"pids": frozen}
        return {"pid": handle.pid, "started": handle.started}  # to tell a restart (`up`)

    def fault_undone(
        self, fleet: FleetSpec, cluster: Cluster, fault: FaultSpec, undo: Mapping[str, Any]
    ) -> str | None:
        """A stop or kill is undone once the cluster runs again as another process (`up`
        starts what is down). Not a pause (`up` leaves a frozen process as it is), nor a
        partition or slow (a link proxy `up` starts again reads its mode from its control
        file): those stay until cleared."""
        if fault.action not in ("stop", "kill"):
            return None
        now = processes.running(self.layout(fleet).pidfile(cluster.name))
        if now is None or (now.pid, now.started) == (undo.get("pid"), undo.get("started")):
            return None
        return f"{cluster.name} was started again (pid {now.pid}), e.g. by `kindfleet up`"

    def clear_fault(
        self, fleet: FleetSpec, cluster: Cluster, fault: FaultSpec, undo: Mapping[str, Any]
    ) -> None:
        if fault.action in ("partition", "slow"):
            for spoke in undo.get("spokes") or self._links(fleet, cluster):
                link.set_mode(self.link_files(fleet, spoke), "pass")
            return
        pidfile = self.layout(fleet).pidfile(cluster.name)
        if fault.action == "pause":
            handle = processes.running(pidfile)
            recorded = [(int(p), float(t)) for p, t in undo.get("pids", [])]
            if handle is not None:
                _signal_tree(handle.pid, signal.SIGCONT)
            for pid, started in recorded:  # a frozen child the tree walk no longer sees
                _signal(pid, started, signal.SIGCONT)
            return
        if processes.running(pidfile) is None:  # stop, kill: start it again, wait Ready
            self.create(fleet, cluster, CreateOptions(wait_seconds=RESTART_WAIT))


class LocalProbes:
    """What the isolation suite may ask of a local spoke (checks, issue 12)."""

    @abstractmethod
    def layout(self, fleet: FleetSpec | str) -> LocalLayout: ...

    def spoke_credential(self, fleet: FleetSpec, spoke: Cluster) -> str:
        path = self.layout(fleet).dir(spoke.name) / "agent" / "credential"
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError:
            raise KindfleetError(f"{spoke.name} has no credential yet ({path})") from None

    def hub_address_inside(self, fleet: FleetSpec, spoke: Cluster) -> tuple[str, int] | None:
        return None  # local work shares this machine's network: there is no boundary


def _signal_tree(pid: int, sig: signal.Signals) -> list[tuple[int, float]]:
    """Signal a process, then its descendants, again until no new one shows up (a process
    that forked between the listing and its own freeze has its child seen next round);
    returns (pid, start time) of each signalled."""
    done: dict[int, float] = {}
    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return []
    todo = [root]
    while todo:
        for proc in todo:
            try:
                proc.send_signal(sig)
                done[proc.pid] = proc.create_time()
            except psutil.Error:
                continue
        try:
            todo = [p for p in root.children(recursive=True) if p.pid not in done]
        except psutil.Error:
            break
    return list(done.items())


def _signal(pid: int, started: float, sig: signal.Signals) -> None:
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - started) < 0.01:
            proc.send_signal(sig)
    except psutil.Error:
        return
