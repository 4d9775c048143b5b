"""What kubectl prints, read with no I/O: nodes and their readiness, pods, versions, the
API servers' addresses, which context a one-cluster kubeconfig means."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kindfleet import kubeconfig as kc

ROLE_PREFIX = "node-role.kubernetes.io/"


@dataclass(frozen=True)
class NodeState:
    name: str
    ready: bool
    message: str  # the Ready condition's message when not Ready
    labels: Mapping[str, str] = field(default_factory=dict)
    kubelet_version: str | None = None
    internal_ip: str | None = None

    @property
    def roles(self) -> list[str]:
        return sorted(k[len(ROLE_PREFIX) :] for k in self.labels if k.startswith(ROLE_PREFIX))


def _items(text: str) -> list[dict[str, Any]]:
    data = json.loads(text or "{}")
    items = data.get("items") if isinstance(data, dict) else None
    return [i for i in items or [] if isinstance(i, dict)]


def _condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return dict(condition)
    return None


def parse_nodes(text: str) -> list[NodeState]:
    out = []
    for item in _items(text):
        meta = item.get("metadata") or {}
        status = item.get("status") or {}
        ready = _condition(item, "Ready")
        addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
        out.append(
            NodeState(
                name=str(meta.get("name", "")),
                ready=bool(ready and ready.get("status") == "True"),
                message=str((ready or {}).get("message") or "no Ready condition yet"),
                labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
                kubelet_version=(status.get("nodeInfo") or {}).get("kubeletVersion"),
                internal_ip=addresses.get("InternalIP"),
            )
        )
    return out


@dataclass(frozen=True)
class PodsReady:
    total: int
    not_ready: Sequence[str]  # "name (phase: reason)"

    @property
    def ready(self) -> bool:
        return self.total > 0 and not self.not_ready


def parse_pods(text: str) -> PodsReady:
    items = _items(text)
    waiting = []
    for item in items:
        condition = _condition(item, "Ready")
        if condition and condition.get("status") == "True":
            continue
        name = (item.get("metadata") or {}).get("name", "?")
        phase = (item.get("status") or {}).get("phase", "Unknown")
        reason = (condition or {}).get("reason") or (condition or {}).get("message") or ""
        waiting.append(f"{name} ({phase}{': ' + reason if reason else ''})")
    return PodsReady(len(items), tuple(waiting))


def parse_versions(text: str) -> tuple[str | None, str | None]:
    """(client, server) gitVersion from `kubectl version -o json`."""
    data = json.loads(text or "{}")
    client = (data.get("clientVersion") or {}).get("gitVersion")
    server = (data.get("serverVersion") or {}).get("gitVersion")
    return client, server


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


def rollout_waiting(text: str) -> str | None:
    """What a Deployment's rollout still waits for (None: done), by kubectl's own rules for
    `rollout status`: the new spec observed, every replica updated, no old replica left
    (a Recreate's old pod terminating still counts), every updated replica available. So
    an old pod that is still Ready never passes for the new one."""
    obj = json.loads(text or "{}")
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    if int(meta.get("generation") or 0) > int(status.get("observedGeneration") or 0):
        return "the new spec is not observed yet"
    wanted = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    if updated < wanted:
        return f"{updated} of {wanted} replicas updated"
    total = int(status.get("replicas") or 0)
    if total > updated:
        return f"{total - updated} old replicas pending termination"
    available = int(status.get("availableReplicas") or 0)
    if available < updated:
        return f"{available} of {updated} updated replicas available"
    return None
