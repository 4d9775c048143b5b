"""Faults a Kubernetes API allows, shared by the kind and existing providers: commands as
values (no I/O), and the small adapter that runs them.

- kill: the platform's Deployment (the orchestrator on a spoke, the hub on the hub)
  scaled to 0 and its pods deleted at once with no grace (what `kill -9` is to a
  process); cleared by scaling back to the replicas it had;
- partition (existing clusters): the orchestrator's egress NetworkPolicy loses its rule
  for the hub (policies only add what is allowed, so a "deny" policy beside it would
  change nothing); the rules it had are kept in an annotation on the policy and put back
  on clear. New connections are cut at once; whether an established one is depends on
  the CNI (Calico lets established flows finish), so the agent notices at its next
  reconnection.

The names are the platform's as `deploy` writes them (deploy/manifests): the fleet
tooling's lower layers cannot import deploy, so they are restated here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kindfleet.errors import KindfleetError
from kindfleet.exec import Command, CommandError, Runner, cmd
from kindfleet.providers.kubectl.commands import _base  # kubectl with explicit config and context

PLATFORM = {  # role -> (namespace, Deployment, pod selector)
    "spoke": ("platform-control", "orchestrator", "app=orchestrator"),
    "hub": ("platform-management", "hub", "app=hub"),
}
EGRESS_POLICY = ("platform-control", "orchestrator-egress")
BEFORE = "kindfleet.dev/egress-before-partition"
DNS_PORT = 53
API_PORTS = {443, 6443}


def replicas_cmd(kubeconfig: Path | None, context: str | None, role: str) -> Command:
    namespace, name, _ = PLATFORM[role]
    return cmd(*_base(kubeconfig, context), "get", "deployment", name, "--namespace",
               namespace, "--output=jsonpath={.spec.replicas}", "--request-timeout=20s",
               timeout=40)  # fmt: skip


def scale_cmd(kubeconfig: Path | None, context: str | None, role: str, replicas: int) -> Command:
    namespace, name, _ = PLATFORM[role]
    return cmd(*_base(kubeconfig, context), "scale", "deployment", name, "--namespace",
               namespace, f"--replicas={replicas}", "--request-timeout=20s",
               timeout=40)  # fmt: skip


def kill_pods_cmd(kubeconfig: Path | None, context: str | None, role: str) -> Command:
    namespace, _, selector = PLATFORM[role]
    return cmd(*_base(kubeconfig, context), "delete", "pods", "--namespace", namespace,
               "--selector", selector, "--grace-period=0", "--force", "--wait=false",
               "--ignore-not-found", "--request-timeout=20s", timeout=40)  # fmt: skip


def rollout_cmd(kubeconfig: Path | None, context: str | None, role: str, seconds: float) -> Command:
    namespace, name, _ = PLATFORM[role]
    return cmd(*_base(kubeconfig, context), "rollout", "status", f"deployment/{name}",
               "--namespace", namespace, f"--timeout={seconds:.0f}s",
               timeout=seconds + 30)  # fmt: skip


def get_policy_cmd(kubeconfig: Path | None, context: str | None) -> Command:
    namespace, name = EGRESS_POLICY
    return cmd(*_base(kubeconfig, context), "get", "networkpolicy", name, "--namespace",
               namespace, "--output=json", "--request-timeout=20s", timeout=40)  # fmt: skip


def patch_policy_cmd(
    kubeconfig: Path | None, context: str | None, ops: Sequence[Mapping[str, Any]]
) -> Command:
    namespace, name = EGRESS_POLICY
    return cmd(*_base(kubeconfig, context), "patch", "networkpolicy", name, "--namespace",
               namespace, "--type=json", f"--patch={json.dumps(list(ops))}",
               "--request-timeout=20s", timeout=40)  # fmt: skip


def cut_ops(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One atomic JSON patch: the hub rule removed, the rules before kept in an annotation
    on the policy itself (so whoever clears it later finds them in the cluster, even if
    the command that cut it died before recording anything)."""
    egress = policy.get("spec", {}).get("egress") or []
    kept = without_hub(egress)
    if len(kept) == len(egress):
        raise KindfleetError(
            f"the policy {'/'.join(EGRESS_POLICY)} has no egress rule for the hub to remove",
            hint="was the platform deployed by kindfleet? (`kindfleet deploy`)",
        )
    if BEFORE in (policy.get("metadata", {}).get("annotations") or {}):
        raise KindfleetError("the orchestrator is already cut off from the hub (annotation set)")
    saved = json.dumps(egress)
    note: dict[str, Any]
    if policy.get("metadata", {}).get("annotations"):
        note = {"op": "add", "path": f"/metadata/annotations/{_pointer(BEFORE)}", "value": saved}
    else:
        note = {"op": "add", "path": "/metadata/annotations", "value": {BEFORE: saved}}
    return [note, {"op": "replace", "path": "/spec/egress", "value": kept}]


def restore_ops(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The patch that puts the saved rules back; empty when nothing was cut."""
    saved = (policy.get("metadata", {}).get("annotations") or {}).get(BEFORE)
    if not saved:
        return []
    return [
        {"op": "replace", "path": "/spec/egress", "value": json.loads(saved)},
        {"op": "remove", "path": f"/metadata/annotations/{_pointer(BEFORE)}"},
    ]


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _ports(rule: Mapping[str, Any]) -> set[int]:
    found = set()
    for port in rule.get("ports") or []:
        try:
            found.add(int(port.get("port")))
        except (TypeError, ValueError):
            continue
    return found


def is_hub_rule(rule: Mapping[str, Any]) -> bool:
    """The egress rule that lets the orchestrator reach the hub: not DNS, not its API."""
    ports = _ports(rule)
    return bool(ports) and DNS_PORT not in ports and not ports >= API_PORTS


def without_hub(egress: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [rule for rule in egress if not is_hub_rule(rule)]


class KubeFaults:
    """Runs the commands above for one cluster's kubeconfig and context."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def kill(self, kubeconfig: Path | None, context: str | None, role: str) -> dict[str, Any]:
        try:
            text = self.runner.run(replicas_cmd(kubeconfig, context, role)).stdout.strip()
        except CommandError as exc:
            namespace, name, _ = PLATFORM[role]
            raise CommandError(
                exc.result,
                what=f"no Deployment {namespace}/{name} to kill",
                hint="is the platform deployed? `kindfleet deploy`",
            ) from None
        replicas = int(text) if text.isdigit() else 1
        self.runner.run(scale_cmd(kubeconfig, context, role, 0))
        self.runner.run(kill_pods_cmd(kubeconfig, context, role))
        return {"replicas": max(1, replicas)}

    def revive(
        self,
        kubeconfig: Path | None,
        context: str | None,
        role: str,
        undo: Mapping[str, Any],
        wait: float = 300.0,
    ) -> None:
        replicas = int(undo.get("replicas") or 1)
        self.runner.run(scale_cmd(kubeconfig, context, role, replicas))
        self.runner.run(rollout_cmd(kubeconfig, context, role, wait))

    def cut_egress(self, kubeconfig: Path | None, context: str | None) -> dict[str, Any]:
        policy = json.loads(self.runner.run(get_policy_cmd(kubeconfig, context)).stdout)
        self.runner.run(patch_policy_cmd(kubeconfig, context, cut_ops(policy)))
        return {}

    def restore_egress(self, kubeconfig: Path | None, context: str | None) -> None:
        policy = json.loads(self.runner.run(get_policy_cmd(kubeconfig, context)).stdout)
        ops = restore_ops(policy)
        if ops:
            self.runner.run(patch_policy_cmd(kubeconfig, context, ops))


# --- what the isolation suite asks of a spoke on Kubernetes -------------------------------

STATE_DIR = "/var/lib/kindfleet"  # the orchestrator's state volume (deploy/manifests)


def credential_cmd(kubeconfig: Path | None, context: str | None) -> Command:
    namespace, name, _ = PLATFORM["spoke"]
    return cmd(*_base(kubeconfig, context), "exec", "--namespace", namespace,
               f"deployment/{name}", "--", "cat", f"{STATE_DIR}/credential",
               "--request-timeout=20s", timeout=40)  # fmt: skip


def args_cmd(kubeconfig: Path | None, context: str | None) -> Command:
    namespace, name, _ = PLATFORM["spoke"]
    return cmd(*_base(kubeconfig, context), "get", "deployment", name, "--namespace",
               namespace, "--output=jsonpath={.spec.template.spec.containers[0].args}",
               "--request-timeout=20s", timeout=40)  # fmt: skip


def hub_from_args(text: str) -> tuple[str, int] | None:
    """(host, port) of the orchestrator's `--hub URL` in its Deployment's args (JSON)."""
    from urllib.parse import urlsplit

    try:
        args = json.loads(text)
        url = urlsplit(args[args.index("--hub") + 1])
    except (ValueError, IndexError, TypeError):
        return None
    if not url.hostname:
        return None
    return url.hostname, url.port or (443 if url.scheme == "https" else 80)


class KubeProbes:
    """`ProbesSpokes` for providers whose spokes are Kubernetes clusters."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def credential(self, kubeconfig: Path | None, context: str | None) -> str:
        return self.runner.run(credential_cmd(kubeconfig, context)).stdout.strip()

    def hub_address(self, kubeconfig: Path | None, context: str | None) -> tuple[str, int] | None:
        return hub_from_args(self.runner.run(args_cmd(kubeconfig, context)).stdout)
