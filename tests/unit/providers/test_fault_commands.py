"""Fault commands as values (kind nodes, kubectl), and what the kind and existing
providers do with what the commands answer: a node that may not touch its network
refuses the fault having undone what it had done; a NetworkPolicy keeps its own rules
for the heal; kill remembers the replicas it found."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from kindfleet import faults
from kindfleet.exec import Command, CommandError, Result
from kindfleet.faults import FaultBook, FaultRefused
from kindfleet.fleetspec import from_text
from kindfleet.providers import kubefaults as kf
from kindfleet.providers.base import FaultSpec, ProviderSettings
from kindfleet.providers.existing import ExistingProvider
from kindfleet.providers.kind import docker as dk
from kindfleet.providers.kind import faults as kindfaults

POLICY = {
    "metadata": {"name": "orchestrator-egress", "namespace": "platform-control"},
    "spec": {
        "egress": [
            {"to": [{"namespaceSelector": {}}], "ports": [{"protocol": "UDP", "port": 53}]},
            {"to": [{"ipBlock": {"cidr": "172.18.0.2/32"}}], "ports": [{"protocol": "TCP", "port": 30080}]},
            {"to": [{"ipBlock": {"cidr": "10.96.0.1/32"}}],
             "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]},
        ]
    },
}  # fmt: skip


@dataclass
class Scripted:
    """A runner answering by a function of the argv; records every command."""

    answer: Callable[[Command], tuple[int, str]] = lambda c: (0, "")
    calls: list[Command] = field(default_factory=list)

    def run(self, command: Command, *, check: bool = True) -> Result:
        self.calls.append(command)
        code, out = self.answer(command)
        result = Result(command, code, out if code == 0 else "", out if code else "")
        if check and code:
            raise CommandError(result)
        return result


def test_partition_drops_only_the_hubs_addresses_first_in_forward_and_output():
    script = kindfaults.partition_script(["172.18.0.2", "172.18.0.3"])
    assert "iptables -w -A KINDFLEET-PARTITION -d 172.18.0.2 -j DROP" in script
    assert "iptables -w -A KINDFLEET-PARTITION -d 172.18.0.3 -j DROP" in script
    assert "iptables -w -I $hook 1 -j KINDFLEET-PARTITION" in script and "FORWARD OUTPUT" in script
    heal = kindfaults.heal_script()
    assert "-D $hook -j KINDFLEET-PARTITION" in heal and "-X KINDFLEET-PARTITION" in heal
    slow = kindfaults.slow_script(["172.18.0.2"], 250, 5.0)
    assert "netem delay 250ms loss 5%" in slow and "match ip dst 172.18.0.2/32 flowid 1:3" in slow
    node = kindfaults.node_sh("spoke1-worker", script)
    assert node.argv == ("docker", "exec", "--interactive", "spoke1-worker", "sh")
    assert node.stdin == script
    assert kindfaults.docker_cmd("stop", ["a", "b"]).argv == (
        "docker",
        "stop",
        "--time",
        "10",
        "a",
        "b",
    )


FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: kf
provider: kind
spokes: [{name: s1}, {name: s2}]
"""


class FakeKind(kindfaults.KindFaults):
    """The kind mixin over containers listed by hand."""

    name = "kind"
    owns_clusters = True
    network = "kind"

    def __init__(self, runner: Scripted) -> None:
        self.runner = runner

    def _containers(self, cluster: str) -> list[dk.Container]:
        ip = {"kf-hub": "172.18.0.2", "s1": "172.18.0.3", "s2": "172.18.0.4"}[cluster]
        return [dk.Container(f"{cluster}-control-plane", "img", "running", {}, {"kind": ip}, {})]

    def _api(self, cluster):  # pragma: no cover (kill is tested on existing)
        raise AssertionError

    def wait_ready(self, fleet, cluster, timeout):
        self.runner.calls.append(Command(("wait-ready", cluster.name)))

    def list_clusters(self, fleet):
        return [c.name for c in fleet.clusters]


def test_a_node_that_may_not_touch_its_network_refuses_having_undone_what_it_did(tmp_path):
    def answer(command: Command) -> tuple[int, str]:
        if command.argv[-2] == "s2-control-plane" and "DROP" in (command.stdin or ""):
            return (
                4,
                "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)",
            )
        return 0, ""

    runner = Scripted(answer)
    spec, book = from_text(FLEET, source="kf"), FaultBook(tmp_path)
    with pytest.raises(FaultRefused) as err:
        faults.inject(spec, FakeKind(runner), book, FaultSpec("partition", "hub"))
    assert "may not change its network" in err.value.message and err.value.exit_code == 2
    heals = [c.argv[-2] for c in runner.calls if c.stdin == kindfaults.heal_script()]
    assert heals == ["s1-control-plane", "s2-control-plane"]  # both undone, nothing kept
    assert book.read() == []  # refused, not recorded


def test_kind_stop_pause_and_partition_are_undone_by_clear(tmp_path):
    runner = Scripted()
    spec, book, kind = from_text(FLEET, source="kf"), FaultBook(tmp_path), FakeKind(runner)
    for action, cluster in (("stop", "s1"), ("pause", "hub"), ("partition", "s2")):
        faults.inject(spec, kind, book, FaultSpec(action, cluster))
    faults.clear(spec, kind, book)
    argvs = [c.argv for c in runner.calls]
    assert ("docker", "stop", "--time", "10", "s1-control-plane") in argvs
    assert ("docker", "start", "s1-control-plane") in argvs and ("wait-ready", "s1") in argvs
    assert ("docker", "pause", "kf-hub-control-plane") in argvs
    assert ("docker", "unpause", "kf-hub-control-plane") in argvs
    assert [c.argv[-2] for c in runner.calls if c.stdin == kindfaults.heal_script()] == [
        "s2-control-plane"
    ]


def test_the_hub_rule_is_told_from_dns_and_the_api_server():
    egress = POLICY["spec"]["egress"]
    assert [kf.is_hub_rule(r) for r in egress] == [False, True, False]
    ops = kf.cut_ops(POLICY)
    assert ops[0]["path"] == "/metadata/annotations"
    assert json.loads(ops[0]["value"][kf.BEFORE]) == egress
    assert ops[1] == {"op": "replace", "path": "/spec/egress", "value": [egress[0], egress[2]]}
    cut = {**POLICY, "metadata": {**POLICY["metadata"], "annotations": ops[0]["value"]}}
    back = kf.restore_ops(cut)
    assert back[0]["value"] == egress
    assert back[1]["path"] == "/metadata/annotations/kindfleet.dev~1egress-before-partition"
    assert kf.restore_ops(POLICY) == []
    with pytest.raises(Exception, match="already cut off"):
        kf.cut_ops(cut)


EXISTING = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: ex
provider: existing
spokes: [{name: eks-1}, {name: gke-1}]
"""


def test_existing_kills_by_scaling_to_zero_cuts_by_policy_and_refuses_the_rest(tmp_path):
    def answer(command: Command) -> tuple[int, str]:
        if "jsonpath={.spec.replicas}" in " ".join(command.argv):
            return 0, "2"
        if "get-contexts" in command.argv:
            return 0, "eks-1\ngke-1\nex-hub\n"
        if "networkpolicy" in command.argv and "get" in command.argv:
            return 0, json.dumps(POLICY)
        return 0, ""

    runner = Scripted(answer)
    provider = ExistingProvider(ProviderSettings(runner=runner))
    spec, book = from_text(EXISTING, source="ex"), FaultBook(tmp_path)
    killed = faults.inject(spec, provider, book, FaultSpec("kill", "eks-1"))
    assert killed.undo == {"replicas": 2}
    shells = [c.shell() for c in runner.calls]
    assert any(
        "scale deployment orchestrator --namespace platform-control --replicas=0" in s
        for s in shells
    )
    assert any("--grace-period=0 --force" in s and "--context eks-1" in s for s in shells)
    faults.inject(spec, provider, book, FaultSpec("partition", "gke-1"))
    assert any(
        "patch networkpolicy orchestrator-egress" in s for s in (c.shell() for c in runner.calls)
    )
    runner.calls.clear()
    faults.clear(spec, provider, book, [killed.id])
    assert "--replicas=2" in runner.calls[0].shell() and "rollout status" in runner.calls[1].shell()
    for action in ("stop", "pause", "slow"):
        with pytest.raises(FaultRefused, match="provider existing"):
            faults.inject(spec, provider, book, FaultSpec(action, "eks-1"))


def test_the_orchestrators_hub_is_read_from_its_args():
    args = json.dumps(["--hub", "http://172.18.0.2:30080", "--name", "s1"])
    assert kf.hub_from_args(args) == ("172.18.0.2", 30080)
    assert kf.hub_from_args(json.dumps(["--hub", "https://hub.example.com"])) == (
        "hub.example.com",
        443,
    )
    assert kf.hub_from_args("not json") is None
