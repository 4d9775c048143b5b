"""kube-controller-manager and kube-scheduler, reduced to the controllers a fresh kind
cluster's observers depend on.

The controller manager (one leader per cluster, elected through a Lease as the real one
is) runs node IPAM (a /24 of --cluster-cidr per node, which CNIs read as spec.podCIDR)
and the DaemonSet controller (one pod per node whose taints the pod template
tolerates, bound to it; the kubelet there runs it; status counts kept). Deployments get
no pods. The scheduler only holds its lease: no pod here needs scheduling.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

from .client import Client
from .common import Pace, args_after, log

Obj = dict[str, Any]
LEASE_SECONDS = 15
RENEW_SECONDS = 2.0


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


def _age(stamp: str) -> float:
    return time.time() - (
        time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    )


class Leader:
    """Leader election on kube-system/<name> (a coordination.k8s.io Lease)."""

    def __init__(self, client: Client, name: str) -> None:
        self.client, self.name = client, name
        self.identity = f"{socket.gethostname()}_{uuid.uuid4()}"
        self.path = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
        self.renewed = -1e9  # monotonic time of the last renewal this holder made

    def holds(self) -> bool:
        if time.monotonic() - self.renewed < RENEW_SECONDS:
            return True  # renewed a moment ago: still ours (client-go renews every 2 s too)
        held = self._holds()
        self.renewed = time.monotonic() if held else -1e9
        return held

    def _holds(self) -> bool:
        spec = {"holderIdentity": self.identity, "leaseDurationSeconds": LEASE_SECONDS,
                "renewTime": _now()}  # fmt: skip
        lease = self.client.get(f"{self.path}/{self.name}")
        if lease is None:
            created = self.client.create(self.path, {"metadata": {"name": self.name}, "spec": spec})
            if created == 201:
                log(f'"successfully acquired lease" lease="kube-system/{self.name}"')
            return created == 201
        current = lease.get("spec") or {}
        mine = current.get("holderIdentity") == self.identity
        if mine or _age(current.get("renewTime") or "1970-01-01T00:00:00") > LEASE_SECONDS:
            if not mine:
                log(f'"successfully acquired lease" lease="kube-system/{self.name}"')
            return self.client.patch(f"{self.path}/{self.name}", {"spec": spec}) == 200
        return False


def tolerates(tolerations: list[Obj], taint: Obj) -> bool:
    if taint.get("effect") not in ("NoSchedule", "NoExecute"):
        return True
    for tol in tolerations:
        if tol.get("effect") and tol["effect"] != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists" and not tol.get("key"):
            return True
        if tol.get("key") == taint.get("key") and (
            tol.get("operator") == "Exists" or tol.get("value", "") == taint.get("value", "")
        ):
            return True
    return False


def subnets(cidr: str) -> Iterator[str]:
    network = ipaddress.ip_network(cidr.split(",", maxsplit=1)[0])
    size = 24 if network.version == 4 else 64
    for subnet in network.subnets(new_prefix=max(size, network.prefixlen)):
        yield str(subnet)


class ControllerManager:
    def __init__(self, client: Client, cluster_cidr: str) -> None:
        self.client, self.cluster_cidr = client, cluster_cidr

    def node_ipam(self, nodes: list[Obj]) -> None:
        used = {(n.get("spec") or {}).get("podCIDR") for n in nodes}
        free = (s for s in subnets(self.cluster_cidr) if s not in used)
        for node in nodes:
            if not (node.get("spec") or {}).get("podCIDR"):
                cidr = next(free)
                name = node["metadata"]["name"]
                self.client.patch(
                    f"/api/v1/nodes/{name}", {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}}
                )
                log(f'"Set node PodCIDR" node="{name}" podCIDRs=["{cidr}"]')

    def daemonsets(self, nodes: list[Obj]) -> object:
        sets = (self.client.get("/apis/apps/v1/daemonsets") or {}).get("items") or []
        pods = (self.client.get("/api/v1/pods") or {}).get("items") or []
        seen = _versions(sets), _versions(pods)
        owned: dict[str, Obj] = {}
        for pod in pods:
            for ref in pod["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "DaemonSet":
                    owned[f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"] = pod
        wanted: set[str] = set()
        for ds in sets:
            meta, template = ds["metadata"], (ds.get("spec") or {}).get("template") or {}
            tolerations = (template.get("spec") or {}).get("tolerations") or []
            ready = 0
            eligible = [
                n
                for n in nodes
                if all(tolerates(tolerations, t) for t in (n.get("spec") or {}).get("taints") or [])
            ]
            for node in eligible:
                node_name = node["metadata"]["name"]
                suffix = hashlib.sha256(f"{meta['uid']}{node_name}".encode()).hexdigest()[:5]
                name = f"{meta['name']}-{suffix}"
                key = f"{meta['namespace']}/{name}"
                wanted.add(key)
                pod = owned.get(key)
                if pod is None:
                    self.create_pod(ds, name, node_name)
                elif any(c.get("type") == "Ready" and c.get("status") == "True"
                         for c in (pod.get("status") or {}).get("conditions") or []):  # fmt: skip
                    ready += 1
            status = {"desiredNumberScheduled": len(eligible), "currentNumberScheduled": len(eligible),
                      "updatedNumberScheduled": len(eligible), "numberReady": ready,
                      "numberAvailable": ready, "numberMisscheduled": 0,
                      "observedGeneration": meta.get("generation", 1)}  # fmt: skip
            if {k: (ds.get("status") or {}).get(k) for k in status} != status:
                self.client.patch(f"/apis/apps/v1/namespaces/{meta['namespace']}/daemonsets/{meta['name']}/status",
                                  {"status": status})  # fmt: skip
        for key in set(owned) - wanted:
            namespace, name = key.split("/", 1)
            self.client.call("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}")
        return seen

    def create_pod(self, ds: Obj, name: str, node: str) -> None:
        meta = ds["metadata"]
        template = (ds.get("spec") or {}).get("template") or {}
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": meta["namespace"],
                            "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                                 "name": meta["name"], "uid": meta["uid"],
                                                 "controller": True}]},
               "spec": {**(template.get("spec") or {}), "nodeName": node}}  # fmt: skip
        if self.client.create(f"/api/v1/namespaces/{meta['namespace']}/pods", pod) == 201:
            log(f'"Created pod" pod="{meta["namespace"]}/{name}" node="{node}"')

    def sync(self) -> object:
        """One round; what it saw (to pace the next)."""
        nodes = (self.client.get("/api/v1/nodes") or {}).get("items") or []
        self.node_ipam(nodes)
        # Nodes by their spec: their status is posted every 10 s and changes nothing here.
        specs = tuple((n["metadata"]["name"], repr(n.get("spec"))) for n in nodes)
        return self.daemonsets(nodes), specs


def _run(argv: list[str], component: str, work: bool) -> None:
    kubeconfig = args_after(argv, "--kubeconfig") or f"/etc/kubernetes/{component}.conf"
    client = Client.from_kubeconfig(kubeconfig)  # kubeadm points it at this node's API server
    leader = Leader(client, component)
    manager = ControllerManager(client, args_after(argv, "--cluster-cidr") or "10.244.0.0/16")
    log(f'"Starting {component}" version="kindnode"')
    pace = Pace(slow=2.0) if work else Pace(fast=2.0)
    while True:
        seen: object = None
        try:
            if leader.holds() and work:
                seen = manager.sync()
        except OSError as exc:
            log(f'"error syncing" err="{exc}"', "E")
        pace.sleep(seen)


def _versions(items: list[Obj]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (i["metadata"].get("uid", ""), str(i["metadata"].get("resourceVersion", ""))) for i in items
    )


def controller_manager(argv: list[str] | None = None) -> None:
    _run(sys.argv[1:] if argv is None else argv, "kube-controller-manager", work=True)


def scheduler(argv: list[str] | None = None) -> None:
    _run(sys.argv[1:] if argv is None else argv, "kube-scheduler", work=False)
