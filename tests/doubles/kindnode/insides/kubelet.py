"""The kubelet, reduced to what the cluster observes of it.

Started by init as kubelet.service (restarting every second until kubeadm has written
/var/lib/kubelet/config.yaml, like the real one in a fresh kind node). Then it:

- runs the static pods in staticPodPath (etcd, kube-apiserver, ... : their `command` is a
  program of this image), as processes in their own session that outlive a kubelet
  restart (as containers do), logging to /var/log/pods and /var/log/containers, and
  posts their mirror pods;
- registers its Node with the labels of --node-labels, the taints of
  --register-with-taints, the InternalIP of --node-ip and the providerID of --provider-id,
  and keeps its status (Ready once the pod network is up);
- "runs" the pods bound to it (what the DaemonSet controller makes): a pod turns Running
  and Ready a moment after it is created; pods that need the pod network wait for it.
  Running a CNI's pod (kindnet, calico-node) writes its config to /etc/cni/net.d, which
  is what NetworkReady means here, as in a real node.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from .client import Client
from .common import Pace, log, write

Obj = dict[str, Any]
CONFIG = Path("/var/lib/kubelet/config.yaml")
FLAG_FILES = (Path("/var/lib/kubelet/kubeadm-flags.env"), Path("/etc/default/kubelet"))
KUBECONFIGS = (Path("/etc/kubernetes/kubelet.conf"), Path("/etc/kubernetes/bootstrap-kubelet.conf"))
STATE = Path("/run/kindnode/pods")
CNI_DIR = Path("/etc/cni/net.d")
CNI_APPS = ("kindnet", "calico-node")
POD_START = 0.3  # seconds from a pod's creation to Running


def flags() -> dict[str, str]:
    """--name=value flags from kubeadm's env file and /etc/default/kubelet."""
    out: dict[str, str] = {}
    for path in FLAG_FILES:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            _, _, value = line.partition("=")  # KUBELET_KUBEADM_ARGS="--a=1 --b=2"
            for word in shlex.split(" ".join(shlex.split(value.strip()))):
                if word.startswith("--"):
                    name, _, arg = word[2:].partition("=")
                    out[name] = arg
    return out


def kube_version() -> str:
    return Path("/kind/version").read_text().strip()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][:1] != "Z"


class StaticPods:
    """Processes for the manifests in staticPodPath; adopted across kubelet restarts."""

    def __init__(self, path: Path, node: str) -> None:
        self.path, self.node = path, node
        self.pods: dict[str, Obj] = {}

    def sync(self) -> None:
        STATE.mkdir(parents=True, exist_ok=True)
        seen = set()
        for manifest in sorted(self.path.glob("*.yaml")) if self.path.is_dir() else []:
            text = manifest.read_text()
            pod = yaml.safe_load(text) or {}
            name = pod["metadata"]["name"]
            seen.add(name)
            digest = hashlib.sha256(text.encode()).hexdigest()[:16]
            state_file = STATE / f"{name}.json"
            state = json.loads(state_file.read_text()) if state_file.exists() else {}
            if state.get("hash") == digest and _alive(int(state.get("pid", 0))):
                self.pods[name] = {**state, "pod": pod}
                continue
            if state.get("pid") and _alive(int(state["pid"])):
                os.kill(int(state["pid"]), signal.SIGTERM)
            self.pods[name] = self.start(name, pod, digest, int(state.get("restarts", -1)) + 1)
            write(state_file, json.dumps({k: v for k, v in self.pods[name].items() if k != "pod"}))
        for name in list(self.pods):
            if name not in seen:
                with contextlib.suppress(OSError):
                    os.kill(int(self.pods.pop(name)["pid"]), signal.SIGTERM)
                (STATE / f"{name}.json").unlink(missing_ok=True)

    def start(self, name: str, pod: Obj, digest: str, restarts: int) -> Obj:
        container = pod["spec"]["containers"][0]
        uid = hashlib.md5(f"{name}{self.node}".encode()).hexdigest()
        logs = Path(f"/var/log/pods/kube-system_{name}-{self.node}_{uid}/{container['name']}")
        logs.mkdir(parents=True, exist_ok=True)
        log_file = logs / f"{restarts}.log"
        link = Path(
            f"/var/log/containers/{name}-{self.node}_kube-system_{container['name']}-{digest}.log"
        )
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(log_file)
        argv = [*container.get("command", []), *container.get("args", [])]
        with log_file.open("ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        log(f'"Started static pod" pod="kube-system/{name}-{self.node}" pid={proc.pid}')
        return {"pid": proc.pid, "hash": digest, "uid": uid, "restarts": restarts,
                "started": time.time(), "image": container.get("image", ""),
                "container": container["name"], "pod": pod}  # fmt: skip

    def reap(self) -> None:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass


class Kubelet:
    def __init__(self, config: Obj, args: dict[str, str]) -> None:
        self.config, self.args = config, args
        self.node = args.get("hostname-override") or socket.gethostname()
        self.static = StaticPods(
            Path(config.get("staticPodPath") or "/etc/kubernetes/manifests"), self.node
        )
        self.client: Client | None = None
        self.registered = False
        self.mirrored: set[str] = set()
        self.last_status: tuple[bool, float] = (False, 0.0)

    def connect(self) -> Client | None:
        for path in KUBECONFIGS:
            if path.exists():
                return Client.from_kubeconfig(path)
        return None

    def labels(self) -> dict[str, str]:
        labels = {"kubernetes.io/hostname": self.node, "kubernetes.io/os": "linux",
                  "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                  "beta.kubernetes.io/arch": "amd64"}  # fmt: skip
        for pair in filter(None, self.args.get("node-labels", "").split(",")):
            key, _, value = pair.partition("=")
            labels[key] = value
        return labels

    def taints(self) -> list[Obj]:
        out = []
        for spec in filter(None, self.args.get("register-with-taints", "").split(",")):
            key_value, _, effect = spec.rpartition(":")
            key, _, value = key_value.partition("=")
            out.append({"key": key, **({"value": value} if value else {}), "effect": effect})
        return out

    def register(self, client: Client) -> None:
        node: Obj = {"apiVersion": "v1", "kind": "Node",
                     "metadata": {"name": self.node, "labels": self.labels(), "annotations": {
                         "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                         "node.alpha.kubernetes.io/ttl": "0",
                         "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
                     "spec": {"providerID": self.args.get("provider-id", "")}}  # fmt: skip
        if self.taints():
            node["spec"]["taints"] = self.taints()
        code = client.create("/api/v1/nodes", node)
        if code in (201, 409):
            self.registered = True
            log(f'"Successfully registered node" node="{self.node}"')

    def network_ready(self) -> bool:
        return CNI_DIR.is_dir() and any(CNI_DIR.glob("*.conf*"))

    def post_status(self, client: Client) -> None:
        ready = self.network_ready()
        if self.last_status[0] == ready and time.time() - self.last_status[1] < 10:
            return
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

        def cond(kind: str, status: str, reason: str, message: str) -> Obj:
            return {"type": kind, "status": status, "reason": reason, "message": message,
                    "lastHeartbeatTime": now, "lastTransitionTime": now}  # fmt: skip

        not_ready = ("container runtime network not ready: NetworkReady=false "
                     "reason:NetworkPluginNotReady message:Network plugin returns error: "
                     "cni plugin not initialized")  # fmt: skip
        ip = self.args.get("node-ip", "").split(",")[0] or socket.gethostbyname(self.node)
        status = {
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status") if ready
                else cond("Ready", "False", "KubeletNotReady", not_ready),
            ],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": self.node}],
            "capacity": {"cpu": str(os.cpu_count() or 1), "memory": "8Gi", "pods": "110",
                         "ephemeral-storage": "100Gi"},
            "allocatable": {"cpu": str(os.cpu_count() or 1), "memory": "8Gi", "pods": "110",
                            "ephemeral-storage": "100Gi"},
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"kubeletVersion": kube_version(), "kubeProxyVersion": kube_version(),
                         "containerRuntimeVersion": "containerd://2.1.4", "osImage": _os_image(),
                         "kernelVersion": os.uname().release, "architecture": "amd64",
                         "operatingSystem": "linux"},
        }  # fmt: skip
        if client.patch(f"/api/v1/nodes/{self.node}/status", {"status": status}) == 200:
            if ready != self.last_status[0]:
                log(f'"Node became {"Ready" if ready else "NotReady"}" node="{self.node}"')
            self.last_status = (ready, time.time())

    def mirror_pods(self, client: Client) -> None:
        for name, state in self.static.pods.items():
            mirror = f"{name}-{self.node}"
            if mirror in self.mirrored:
                continue
            pod = json.loads(json.dumps(state["pod"]))
            pod["metadata"]["name"] = mirror
            pod["metadata"].setdefault("annotations", {})["kubernetes.io/config.mirror"] = state[
                "hash"
            ]
            pod["spec"]["nodeName"] = self.node
            pod.pop("status", None)
            path = "/api/v1/namespaces/kube-system/pods"
            if client.create(path, pod) in (201, 409):
                client.patch(
                    f"{path}/{mirror}/status", {"status": self.running_status(hostnetwork=True)}
                )
                self.mirrored.add(mirror)

    def running_status(self, hostnetwork: bool) -> Obj:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        ip = self.args.get("node-ip", "").split(",")[0] or socket.gethostbyname(self.node)
        conditions = [{"type": t, "status": "True", "lastTransitionTime": now}
                      for t in ("PodReadyToStartContainers", "Initialized", "Ready",
                                "ContainersReady", "PodScheduled")]  # fmt: skip
        return {"phase": "Running", "conditions": conditions, "hostIP": ip,
                "podIP": ip if hostnetwork else "", "startTime": now}  # fmt: skip

    def run_pods(self, client: Client) -> tuple[object, bool]:
        """Start this node's pods; what the listing was, and whether any still waits."""
        listing = client.get(f"/api/v1/pods?fieldSelector=spec.nodeName%3D{self.node}") or {}
        items = listing.get("items") or []
        seen = tuple(
            (p["metadata"].get("uid"), p["metadata"].get("resourceVersion")) for p in items
        )
        waiting = False
        for pod in items:
            meta = pod["metadata"]
            if (pod.get("status") or {}).get(
                "phase"
            ) == "Running" or "kubernetes.io/config.mirror" in (meta.get("annotations") or {}):
                continue
            waiting = True
            host_network = bool((pod.get("spec") or {}).get("hostNetwork"))
            created = (
                time.mktime(time.strptime(meta["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ"))
                - time.timezone
            )
            if time.time() - created < POD_START or not (host_network or self.network_ready()):
                continue
            app = (
                (meta.get("labels") or {}).get("k8s-app")
                or (meta.get("labels") or {}).get("app")
                or ""
            )
            if app in CNI_APPS:
                write(CNI_DIR / f"10-{app}.conflist", json.dumps(
                    {"cniVersion": "0.4.0", "name": app, "plugins": [{"type": "ptp"}]}))  # fmt: skip
            path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status"
            if client.patch(path, {"status": self.running_status(host_network)}) == 200:
                log(f'"Pod started" pod="{meta["namespace"]}/{meta["name"]}"')
        return seen, waiting

    def loop(self) -> None:
        """Static pods every half second (local files); the API at a pace (common.Pace)."""
        pace, next_api = Pace(), 0.0
        while True:
            self.static.sync()
            self.static.reap()
            self.client = self.client or self.connect()
            if self.client is None:
                time.sleep(0.5)
                continue
            try:
                if not self.registered:
                    self.register(self.client)
                if self.registered:
                    self.post_status(self.client)  # a request only when Ready changes, or 10 s
                    if time.monotonic() >= next_api:
                        mirrored = len(self.mirrored)
                        self.mirror_pods(self.client)
                        seen, waiting = self.run_pods(self.client)
                        busy = waiting or len(self.mirrored) != mirrored
                        next_api = time.monotonic() + pace.interval(seen, busy=busy)
            except OSError as exc:  # the API server is not up yet, or restarting
                log(f'"Unable to reach the API server" err="{exc}"', "E")
            time.sleep(0.5)


def _os_image() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "Debian"


def main(argv: list[str] | None = None) -> None:
    del argv
    if not CONFIG.exists():
        log(f'"command failed" err="failed to load kubelet config file, path: {CONFIG}, error: '
            f'open {CONFIG}: no such file or directory"', "E")  # fmt: skip
        sys.exit(1)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    config = yaml.safe_load(CONFIG.read_text()) or {}
    log(f'"Kubelet version" kubeletVersion="{kube_version()}"')
    Kubelet(config, flags()).loop()


if __name__ == "__main__":
    main()
