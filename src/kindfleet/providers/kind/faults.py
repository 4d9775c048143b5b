"""Faults on KIND clusters, through the engine and the nodes' own network tools:

- stop: the cluster's node containers stopped (`docker stop`); cleared by starting them
  and waiting until every node is Ready;
- pause: the node containers frozen (`docker pause`, the cgroup freezer); unpaused;
- kill: the orchestrator (on the hub: the hub) scaled to 0 and its pods deleted with no
  grace, through the cluster's API; scaled back on clear (`providers/kubefaults.py`);
- partition: in each spoke node, an iptables chain that drops every packet to the hub's
  node addresses, first in FORWARD (pods) and OUTPUT (the node): the spoke's API, its
  pods and every other cluster keep working;
- slow: in each spoke node, netem (latency, loss) on traffic to the hub's addresses only.
On the hub, partition and slow apply to every spoke. Node containers without NET_ADMIN
(an engine that refuses --privileged) cannot change their network: the fault is then
refused with that reason, having changed nothing.
"""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from kindfleet.errors import KindfleetError
from kindfleet.exec import Command, CommandError, Runner, cmd
from kindfleet.fleetspec.internal import Cluster, FleetSpec
from kindfleet.providers.base import FAULT_ACTIONS, FaultSpec, FaultUnsupported
from kindfleet.providers.kind import docker as dk
from kindfleet.providers.kind.kindcli import context_name
from kindfleet.providers.kubefaults import KubeFaults, KubeProbes

CHAIN = "KINDFLEET-PARTITION"
DEVICE = "eth0"
NOT_PERMITTED = ("Operation not permitted", "Permission denied", "can't initialize iptables",
                 "RTNETLINK answers: Operation not permitted")  # fmt: skip
RESTART_WAIT = 300.0


def docker_cmd(verb: str, names: Sequence[str]) -> Command:
    """docker stop | start | pause | unpause of node containers."""
    extra = ["--time", "10"] if verb == "stop" else []
    return cmd(dk.DOCKER, verb, *extra, *names, timeout=120)


def partition_script(hub_addresses: Sequence[str]) -> str:
    drops = "\n".join(f"iptables -w -A {CHAIN} -d {a} -j DROP" for a in hub_addresses)
    return f"""set -e
iptables -w -N {CHAIN} 2>/dev/null || iptables -w -F {CHAIN}
{drops}
for hook in FORWARD OUTPUT; do
  iptables -w -C $hook -j {CHAIN} 2>/dev/null || iptables -w -I $hook 1 -j {CHAIN}
done
"""


def heal_script() -> str:
    return f"""for hook in FORWARD OUTPUT; do
  while iptables -w -D $hook -j {CHAIN} 2>/dev/null; do :; done
done
iptables -w -F {CHAIN} 2>/dev/null; iptables -w -X {CHAIN} 2>/dev/null; true
"""


def slow_script(hub_addresses: Sequence[str], latency_ms: int, loss_percent: float) -> str:
    filters = "\n".join(
        f"tc filter add dev {DEVICE} protocol ip parent 1:0 prio 3 u32 match ip dst {a}/32 "
        "flowid 1:3"
        for a in hub_addresses
    )
    return f"""set -e
tc qdisc del dev {DEVICE} root 2>/dev/null || true
tc qdisc add dev {DEVICE} root handle 1: prio
tc qdisc add dev {DEVICE} parent 1:3 handle 30: netem delay {latency_ms}ms loss {loss_percent:g}%
{filters}
"""


def unslow_script() -> str:
    return f"tc qdisc del dev {DEVICE} root 2>/dev/null || true\n"


def node_sh(node: str, script: str) -> Command:
    return cmd(dk.DOCKER, "exec", "--interactive", node, "sh", stdin=script, timeout=60)


def not_permitted(output: str) -> bool:
    return any(sign in output for sign in NOT_PERMITTED)


def missing_tool(output: str) -> str | None:
    """`iptables` or `tc` when the node has no such program."""
    for tool in ("iptables", "tc"):
        if f"{tool}: not found" in output or f"{tool}: command not found" in output:
            return tool
    return None


class KindFaults:
    """The fault verbs of `KindProvider` (a mixin over its runner, containers and API)."""

    runner: Runner
    network: str

    @abstractmethod
    def _containers(self, cluster: str) -> list[dk.Container]: ...

    @abstractmethod
    def _api(self, cluster: str) -> contextlib.AbstractContextManager[Path]: ...

    @abstractmethod
    def wait_ready(self, fleet: FleetSpec, cluster: Cluster, timeout: float) -> None: ...

    def fault_refusal(self, fleet: FleetSpec, cluster: Cluster, action: str) -> str | None:
        if action not in FAULT_ACTIONS:
            return f"{action!r} is not a fault"
        if action in ("partition", "slow") and not fleet.spokes:
            return "the fleet has no spokes to cut off from the hub"
        return None

    def _names(self, cluster: str) -> list[str]:
        names = [c.name for c in self._containers(cluster)]
        if not names:
            raise KindfleetError(f"{cluster} has no node containers", hint="`kindfleet up`")
        return names

    def _spokes(self, fleet: FleetSpec, cluster: Cluster) -> list[str]:
        return [s.name for s in fleet.spokes] if cluster.role == "hub" else [cluster.name]

    def _hub_addresses(self, fleet: FleetSpec) -> list[str]:
        found = [c.networks.get(self.network) for c in self._containers(fleet.hub.name)]
        addresses = sorted({a for a in found if a})
        if not addresses:
            raise KindfleetError(f"the hub {fleet.hub.name} has no address on {self.network}")
        return addresses

    @contextlib.contextmanager
    def _kube(self, cluster: str) -> Iterator[tuple[Path, str]]:
        with self._api(cluster) as path:
            yield path, context_name(cluster)

    def inject_fault(self, fleet: FleetSpec, cluster: Cluster, fault: FaultSpec) -> dict[str, Any]:
        if fault.action in ("stop", "pause"):
            self.runner.run(docker_cmd(fault.action, self._names(cluster.name)))
            return {}
        if fault.action == "kill":
            with self._kube(cluster.name) as (path, context):
                return KubeFaults(self.runner).kill(path, context, cluster.role)
        hub = self._hub_addresses(fleet)
        if fault.action == "partition":
            script, undo = partition_script(hub), heal_script()
        else:
            script = slow_script(hub, fault.latency_ms, fault.loss_percent)
            undo = unslow_script()
        nodes = [n for s in self._spokes(fleet, cluster) for n in self._names(s)]
        self._in_nodes(nodes, script, undo, fault.action)
        return {"nodes": nodes}

    def _in_nodes(self, nodes: Sequence[str], script: str, undo: str, action: str) -> None:
        """Run `script` in every node; on a failure, undo where it ran, then refuse (not
        permitted) or raise."""
        done: list[str] = []
        for node in nodes:
            try:
                self.runner.run(node_sh(node, script))
            except CommandError as exc:
                for other in [*done, node]:
                    self.runner.run(node_sh(other, undo), check=False)
                tool = missing_tool(exc.output)
                if tool is not None:
                    raise FaultUnsupported(
                        f"the node {node} has no {tool}: {action} needs it in the nodes",
                        hint="kind's node images have it; this node image does not",
                    ) from None
                if not_permitted(exc.output):
                    raise FaultUnsupported(
                        f"the node {node} may not change its network ({action} needs "
                        "NET_ADMIN in the node containers; this engine runs them without it)",
                        hint="stop, pause and kill work here; partition and slow need nodes "
                        "that may run iptables and tc",
                    ) from None
                raise
            done.append(node)

    def clear_fault(
        self, fleet: FleetSpec, cluster: Cluster, fault: FaultSpec, undo: Mapping[str, Any]
    ) -> None:
        if fault.action == "pause":
            self.runner.run(docker_cmd("unpause", self._names(cluster.name)), check=False)
            return
        if fault.action == "stop":
            self.runner.run(docker_cmd("start", self._names(cluster.name)))
            self.wait_ready(fleet, cluster, RESTART_WAIT)
            return
        if fault.action == "kill":
            with self._kube(cluster.name) as (path, context):
                KubeFaults(self.runner).revive(path, context, cluster.role, undo)
            return
        script = heal_script() if fault.action == "partition" else unslow_script()
        nodes = undo.get("nodes") or [
            n for s in self._spokes(fleet, cluster) for n in self._names(s)
        ]
        for node in nodes:
            self.runner.run(node_sh(str(node), script))

    # -- what the isolation suite asks of a spoke (ProbesSpokes) ----------------------

    def spoke_credential(self, fleet: FleetSpec, spoke: Cluster) -> str:
        with self._kube(spoke.name) as (path, context):
            return KubeProbes(self.runner).credential(path, context)

    def hub_address_inside(self, fleet: FleetSpec, spoke: Cluster) -> tuple[str, int] | None:
        with self._kube(spoke.name) as (path, context):
            return KubeProbes(self.runner).hub_address(path, context)
