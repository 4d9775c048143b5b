"""kubeadm init / join, reduced to the phases whose results kind and kubectl observe.

Both read the config kind wrote (/kind/kubeadm.conf: v1beta3 or v1beta4, as kind picks
by Kubernetes version) and follow kubeadm's phases:

- init: certs (kubeadm's file layout, real X.509), kubeconfigs (admin.conf & co., server
  = controlPlaneEndpoint), static pod manifests for etcd, kube-apiserver,
  kube-controller-manager and kube-scheduler, kubelet-start (config + flags, then
  `systemctl restart kubelet`: the kubelet runs the static pods), wait-control-plane,
  upload-config (kubeadm-config, kubelet-config), mark-control-plane (labels and taints
  from nodeRegistration, as the real phase), bootstrap-token (the token's Secret and
  kube-public/cluster-info), addons (CoreDNS, kube-proxy unless skipped).
- join: discovery through cluster-info with the bootstrap token, then for a control plane
  its own API server certificate (from the CAs kind copied) and static pods using the
  first control plane's etcd (read from the etcd mirror pod's annotation, as kubeadm
  does), kubelet-start, and waiting for the node to register; mark-control-plane too.

Simplified: no preflight checks, no etcd member per control plane, no TLS bootstrap of
worker kubelets (they keep the bootstrap token).
"""

from __future__ import annotations

import base64
import ipaddress
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from . import pki
from .client import Client
from .common import args_after, by_kind, documents, poll, write

Obj = dict[str, Any]
MANIFESTS = Path("/etc/kubernetes/manifests")
KUBELET_CONFIG = Path("/var/lib/kubelet/config.yaml")
FLAGS_ENV = Path("/var/lib/kubelet/kubeadm-flags.env")
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
DEFAULT_TAINT = {"key": CONTROL_PLANE_LABEL, "effect": "NoSchedule"}


def say(message: str) -> None:
    print(message, flush=True)


def kube_version() -> str:
    return Path("/kind/version").read_text().strip()


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int(minor)


def check_version(version: str) -> None:
    """kubeadm's own rule: it deploys its minor version and the one before, nothing older."""
    mine = _minor(kube_version())
    oldest = (mine[0], mine[1] - 1)
    if _minor(version) < oldest:
        fail(
            "[preflight] Some fatal errors occurred:\n\t[ERROR KubernetesVersion]: this "
            f"version of kubeadm only supports deploying clusters with the control plane "
            f"version >= {oldest[0]}.{oldest[1]}.0. Current version: {version}"
        )


def extra_args(registration: Obj) -> dict[str, str]:
    """kubeletExtraArgs as a map (v1beta3) or a list of name/value (v1beta4)."""
    raw = registration.get("kubeletExtraArgs") or {}
    if isinstance(raw, list):
        return {str(a["name"]): str(a.get("value", "")) for a in raw}
    return {str(k): str(v) for k, v in raw.items()}


def service_ip(subnet: str, index: int) -> str:
    network = ipaddress.ip_network(subnet.split(",", maxsplit=1)[0])
    return str(network.network_address + index)


def host_port(endpoint: str, default_port: int = 6443) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return (host, int(port)) if host and port.isdigit() else (endpoint, default_port)


# --- phases shared by init and join ----------------------------------------------


def api_server_certs(node: str, advertise: str, endpoint: str, cluster: Obj) -> None:
    """apiserver.crt with kubeadm's SANs, and its client certificates."""
    subnet = (cluster.get("networking") or {}).get("serviceSubnet") or "10.96.0.0/16"
    sans = [str(s) for s in (cluster.get("apiServer") or {}).get("certSANs") or []]
    candidates = [node, "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                  "kubernetes.default.svc.cluster.local", "localhost", host_port(endpoint)[0],
                  service_ip(subnet, 1), advertise, "127.0.0.1", *sans]  # fmt: skip
    names, ips = [], []
    for candidate in candidates:
        try:
            ips.append(str(ipaddress.ip_address(candidate)))
        except ValueError:
            names.append(candidate)
    pki.leaf(
        "apiserver", "ca", "/CN=kube-apiserver", "serverAuth", dns=tuple(names), ips=tuple(ips)
    )
    pki.leaf("apiserver-kubelet-client", "ca", "/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client", "clientAuth")  # fmt: skip
    pki.leaf("front-proxy-client", "front-proxy-ca", "/CN=front-proxy-client", "clientAuth")
    pki.leaf("apiserver-etcd-client", "etcd/ca", "/CN=kube-apiserver-etcd-client", "clientAuth")


def control_plane_kubeconfigs(node: str, server: str, local: str) -> None:
    """admin.conf and kubelet.conf reach the cluster through controlPlaneEndpoint; the
    controller manager's and the scheduler's talk to this node's API server."""
    users = {
        "admin.conf": ("kubernetes-admin", "/O=kubeadm:cluster-admins/CN=kubernetes-admin"),
        "super-admin.conf": ("kubernetes-super-admin", "/O=system:masters/CN=kubernetes-super-admin"),
        "controller-manager.conf": ("system:kube-controller-manager", "/CN=system:kube-controller-manager"),
        "scheduler.conf": ("system:kube-scheduler", "/CN=system:kube-scheduler"),
        "kubelet.conf": (f"system:node:{node}", f"/O=system:nodes/CN=system:node:{node}"),
    }  # fmt: skip
    for file, (user, subject) in users.items():
        cert = f"client-{file.removesuffix('.conf')}"
        pki.leaf(cert, "ca", subject, "clientAuth")
        where = local if file in ("controller-manager.conf", "scheduler.conf") else server
        pki.kubeconfig(f"/etc/kubernetes/{file}", where, user, cert=cert)
        for suffix in (".crt", ".key"):  # inline in the kubeconfig, as kubeadm keeps them
            (pki.PKI / f"{cert}{suffix}").unlink()


def static_pod(name: str, command: list[str], annotations: Obj | None = None) -> Obj:
    image = f"registry.k8s.io/{name}:{kube_version()}"
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "kube-system",
                         "labels": {"component": name, "tier": "control-plane"},
                         "annotations": annotations or {}},
            "spec": {"hostNetwork": True, "priorityClassName": "system-node-critical",
                     "containers": [{"name": name, "image": image, "command": command}]},
            "status": {}}  # fmt: skip


def control_plane_manifests(advertise: str, port: int, cluster: Obj, etcd: str) -> None:
    net = cluster.get("networking") or {}
    pki_dir = str(pki.PKI)
    apiserver = ["kube-apiserver", f"--advertise-address={advertise}", f"--secure-port={port}",
                 f"--etcd-servers={etcd}", f"--etcd-cafile={pki_dir}/etcd/ca.crt",
                 f"--etcd-certfile={pki_dir}/apiserver-etcd-client.crt",
                 f"--etcd-keyfile={pki_dir}/apiserver-etcd-client.key",
                 f"--client-ca-file={pki_dir}/ca.crt",
                 f"--tls-cert-file={pki_dir}/apiserver.crt",
                 f"--tls-private-key-file={pki_dir}/apiserver.key",
                 f"--service-account-key-file={pki_dir}/sa.pub",
                 f"--service-cluster-ip-range={net.get('serviceSubnet', '10.96.0.0/16')}",
                 "--authorization-mode=Node,RBAC", "--enable-bootstrap-token-auth=true"]  # fmt: skip
    manager = ["kube-controller-manager", "--kubeconfig=/etc/kubernetes/controller-manager.conf",
               "--allocate-node-cidrs=true", "--leader-elect=true",
               f"--cluster-cidr={net.get('podSubnet', '10.244.0.0/16')}",
               f"--service-cluster-ip-range={net.get('serviceSubnet', '10.96.0.0/16')}"]  # fmt: skip
    scheduler = ["kube-scheduler", "--kubeconfig=/etc/kubernetes/scheduler.conf",
                 "--leader-elect=true"]  # fmt: skip
    endpoint = {
        "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": f"{advertise}:{port}"
    }
    pods = {"kube-apiserver": static_pod("kube-apiserver", apiserver, endpoint),
            "kube-controller-manager": static_pod("kube-controller-manager", manager),
            "kube-scheduler": static_pod("kube-scheduler", scheduler)}  # fmt: skip
    for name, pod in pods.items():
        write(MANIFESTS / f"{name}.yaml", yaml.safe_dump(pod, sort_keys=False), mode=0o600)


def kubelet_start(node: str, registration: Obj, kubelet: Obj, taints: bool) -> None:
    """The kubelet's flags, then its config, then `systemctl restart kubelet`. In that
    order, as kubeadm: the kubelet, restarting every second until its config exists, must
    never start with the config but without the flags (it would register unlabelled)."""
    socket_path = registration.get("criSocket", "unix:///run/containerd/containerd.sock")
    flags = [f"--container-runtime-endpoint={socket_path}"]
    if node != socket.gethostname():
        flags.append(f"--hostname-override={node}")
    flags += [f"--{k}={v}" for k, v in extra_args(registration).items()]
    if taints and registration.get("taints"):
        specs = [f"{t['key']}={t.get('value', '')}:{t['effect']}" for t in registration["taints"]]
        flags.append(f"--register-with-taints={','.join(specs)}")
    write(FLAGS_ENV, f'KUBELET_KUBEADM_ARGS="{" ".join(flags)}"\n')
    say(f'[kubelet-start] Writing kubelet environment file with flags to file "{FLAGS_ENV}"')
    default = {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration"}
    config = {k: v for k, v in (kubelet or default).items() if k != "metadata"}
    config.setdefault("staticPodPath", str(MANIFESTS))
    write(KUBELET_CONFIG, yaml.safe_dump(config, sort_keys=False))
    say(f'[kubelet-start] Writing kubelet configuration to file "{KUBELET_CONFIG}"')
    say("[kubelet-start] Starting the kubelet")
    subprocess.run(["systemctl", "restart", "kubelet"], check=True)


def wait_for_node(client: Client, node: str, timeout: float = 60) -> Obj:
    found = poll(lambda: client.get(f"/api/v1/nodes/{node}"), timeout, 0.2)
    if found is None:
        fail(f"timed out waiting for the kubelet to register node {node!r}")
    return found  # type: ignore[return-value]


def mark_control_plane(client: Client, node: str, registration: Obj) -> None:
    say(f"[mark-control-plane] Marking the node {node} as control-plane by adding the labels: "
        f"[{CONTROL_PLANE_LABEL} {EXCLUDE_LB_LABEL}]")  # fmt: skip
    current = wait_for_node(client, node)
    wanted = registration.get("taints", [DEFAULT_TAINT])  # `taints: []` means none
    taints = list((current.get("spec") or {}).get("taints") or [])
    for taint in wanted or []:
        if not any(
            t.get("key") == taint["key"] and t.get("effect") == taint["effect"] for t in taints
        ):
            taints.append({k: v for k, v in taint.items() if v is not None})
    if wanted:
        say(f"[mark-control-plane] Marking the node {node} as control-plane by adding the taints "
            f"{[t['key'] + ':' + t['effect'] for t in wanted]}")  # fmt: skip
    labels = {CONTROL_PLANE_LABEL: "", EXCLUDE_LB_LABEL: ""}
    code = client.patch(f"/api/v1/nodes/{node}", {"metadata": {"labels": labels},
                                                  "spec": {"taints": taints or None}})  # fmt: skip
    if code != 200:
        fail(f"error marking the control-plane node {node}: HTTP {code}")


def fail(message: str) -> None:
    sys.stderr.write(
        f"error execution phase: {message}\nTo see the stack trace of this error execute with --v=5 or higher\n"
    )
    sys.exit(1)


# --- init ------------------------------------------------------------------------


def init(argv: list[str]) -> None:
    docs = documents(args_after(argv, "--config") or "/kind/kubeadm.conf")
    cluster, init_config = by_kind(docs, "ClusterConfiguration"), by_kind(docs, "InitConfiguration")
    registration = init_config.get("nodeRegistration") or {}
    skip = set(init_config.get("skipPhases") or []) | set(
        (args_after(argv, "--skip-phases") or "").split(",")
    )
    node = registration.get("name") or socket.gethostname()
    local = init_config.get("localAPIEndpoint") or {}
    advertise = local.get("advertiseAddress") or socket.gethostbyname(socket.gethostname())
    port = int(local.get("bindPort") or 6443)
    endpoint = cluster.get("controlPlaneEndpoint") or f"{advertise}:{port}"
    version = str(cluster.get("kubernetesVersion") or kube_version())
    say(f"[init] Using Kubernetes version: {version}")
    check_version(version)
    say('[certs] Using certificateDir folder "/etc/kubernetes/pki"')
    pki.ca("ca", "kubernetes")
    pki.ca("front-proxy-ca", "front-proxy-ca")
    pki.ca("etcd/ca", "etcd-ca")
    pki.service_account_keys()
    api_server_certs(node, advertise, endpoint, cluster)
    pki.leaf("etcd/server", "etcd/ca", f"/CN={node}", "serverAuth,clientAuth",
             dns=(node, "localhost"), ips=(advertise, "127.0.0.1"))  # fmt: skip
    say('[kubeconfig] Using kubeconfig folder "/etc/kubernetes"')
    control_plane_kubeconfigs(node, f"https://{endpoint}", f"https://{advertise}:{port}")
    etcd_url = f"https://{advertise}:2379"
    etcd = static_pod("etcd", ["etcd", f"--name={node}", f"--advertise-client-urls={etcd_url}",
                               f"--listen-client-urls=https://127.0.0.1:2379,{etcd_url}",
                               "--data-dir=/var/lib/etcd",
                               "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
                               "--key-file=/etc/kubernetes/pki/etcd/server.key"],
                      {"kubeadm.kubernetes.io/etcd.advertise-client-urls": etcd_url})  # fmt: skip
    write(MANIFESTS / "etcd.yaml", yaml.safe_dump(etcd, sort_keys=False), mode=0o600)
    control_plane_manifests(advertise, port, cluster, "https://127.0.0.1:2379")
    say('[control-plane] Creating static Pod manifests in "/etc/kubernetes/manifests"')
    kubelet_start(node, registration, by_kind(docs, "KubeletConfiguration"), taints=False)
    say("[wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods")
    client = Client.from_kubeconfig("/etc/kubernetes/admin.conf", f"https://{advertise}:{port}")
    started = time.monotonic()
    if poll(lambda: True if client.healthy() else None, 120, 0.2) is None:
        fail("wait-control-plane: the API server did not become healthy within 2m0s")
    say(f"[api-check] The API server is healthy after {time.monotonic() - started:.6f}s")
    upload_config(client, cluster, by_kind(docs, "KubeletConfiguration"))
    mark_control_plane(client, node, registration)
    bootstrap_token(client, init_config, endpoint)
    if "addon/coredns" not in skip and "addon" not in skip:
        coredns(client, cluster)
        say("[addons] Applied essential addon: CoreDNS")
    if "addon/kube-proxy" not in skip and "addon" not in skip:
        kube_proxy(client, cluster, by_kind(docs, "KubeProxyConfiguration"))
        say("[addons] Applied essential addon: kube-proxy")
    say("\nYour Kubernetes control-plane has initialized successfully!\n")


def upload_config(client: Client, cluster: Obj, kubelet: Obj) -> None:
    cm = "/api/v1/namespaces/kube-system/configmaps"
    stored = {k: v for k, v in cluster.items() if k != "metadata"}
    client.apply(cm, {"metadata": {"name": "kubeadm-config"},
                      "data": {"ClusterConfiguration": yaml.safe_dump(stored)}})  # fmt: skip
    kubelet = {k: v for k, v in (kubelet or {}).items() if k != "metadata"}
    client.apply(cm, {"metadata": {"name": "kubelet-config"},
                      "data": {"kubelet": yaml.safe_dump(kubelet)}})  # fmt: skip
    say(
        '[upload-config] Storing the configuration used in ConfigMap "kubeadm-config" in the "kube-system" Namespace'
    )


def bootstrap_token(client: Client, init_config: Obj, endpoint: str) -> None:
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    for entry in init_config.get("bootstrapTokens") or []:
        token_id, _, secret = str(entry["token"]).partition(".")
        data = {"token-id": b64(token_id), "token-secret": b64(secret),
                "usage-bootstrap-authentication": b64("true"), "usage-bootstrap-signing": b64("true"),
                "auth-extra-groups": b64("system:bootstrappers:kubeadm:default-node-token")}  # fmt: skip
        client.apply("/api/v1/namespaces/kube-system/secrets",
                     {"metadata": {"name": f"bootstrap-token-{token_id}"},
                      "type": "bootstrap.kubernetes.io/token", "data": data})  # fmt: skip
    ca = (pki.PKI / "ca.crt").read_text()
    info = {"apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "", "cluster": {
                "certificate-authority-data": base64.b64encode(ca.encode()).decode(),
                "server": f"https://{endpoint}"}}],
            "contexts": [], "users": []}  # fmt: skip
    client.apply(
        "/api/v1/namespaces/kube-public/configmaps",
        {"metadata": {"name": "cluster-info"}, "data": {"kubeconfig": yaml.safe_dump(info)}},
    )
    say('[bootstrap-token] Creating the "cluster-info" ConfigMap in the "kube-public" namespace')


def coredns(client: Client, cluster: Obj) -> None:
    subnet = (cluster.get("networking") or {}).get("serviceSubnet") or "10.96.0.0/16"
    labels = {"k8s-app": "kube-dns"}
    ns = "/api/v1/namespaces/kube-system"
    client.apply(f"{ns}/serviceaccounts", {"metadata": {"name": "coredns"}})
    client.apply(f"{ns}/configmaps", {"metadata": {"name": "coredns"}, "data": {
        "Corefile": ".:53 {\n    errors\n    kubernetes cluster.local in-addr.arpa ip6.arpa\n    forward . /etc/resolv.conf\n}\n"}})  # fmt: skip
    client.apply(f"{ns}/services", {"metadata": {"name": "kube-dns", "labels": labels},
                                    "spec": {"clusterIP": service_ip(subnet, 10), "selector": labels,
                                             "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                                                       {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}})  # fmt: skip
    client.apply("/apis/apps/v1/namespaces/kube-system/deployments", {
        "metadata": {"name": "coredns", "labels": labels},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                     {"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.12.1"}]}}}})  # fmt: skip


def kube_proxy(client: Client, cluster: Obj, proxy: Obj) -> None:
    labels = {"k8s-app": "kube-proxy"}
    config = {k: v for k, v in (proxy or {}).items() if k != "metadata"}
    client.apply("/api/v1/namespaces/kube-system/configmaps",
                 {"metadata": {"name": "kube-proxy", "labels": {"app": "kube-proxy"}},
                  "data": {"config.conf": yaml.safe_dump(config)}})  # fmt: skip
    client.apply("/apis/apps/v1/namespaces/kube-system/daemonsets", {
        "metadata": {"name": "kube-proxy", "labels": labels},
        "spec": {"selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {
                     "hostNetwork": True, "tolerations": [{"operator": "Exists"}],
                     "containers": [{"name": "kube-proxy",
                                     "image": f"registry.k8s.io/kube-proxy:{kube_version()}"}]}}}})  # fmt: skip


# --- join ------------------------------------------------------------------------


def join(argv: list[str]) -> None:
    docs = documents(args_after(argv, "--config") or "/kind/kubeadm.conf")
    join_config = by_kind(docs, "JoinConfiguration")
    registration = join_config.get("nodeRegistration") or {}
    node = registration.get("name") or socket.gethostname()
    discovery = (join_config.get("discovery") or {}).get("bootstrapToken") or {}
    endpoint, token = discovery["apiServerEndpoint"], discovery["token"]
    say(
        f'[preflight] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system" via {endpoint}'
    )
    anonymous = Client(f"https://{endpoint}", verify=False)
    path = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
    info = poll(lambda: _quiet_get(anonymous, path), 60, 0.5)
    if info is None:
        fail(
            f"couldn't validate the identity of the API Server: cluster-info not readable at {endpoint}"
        )
    kubeconfig = yaml.safe_load(
        info["kubeconfig"] if "kubeconfig" in info else info["data"]["kubeconfig"]
    )  # type: ignore[index]
    ca_pem = base64.b64decode(
        kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]
    ).decode()
    client = Client(f"https://{endpoint}", ca_pem, token=token)
    stored = client.get("/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
    if stored is None:
        fail("unable to fetch the kubeadm-config ConfigMap (is the bootstrap token valid?)")
    cluster = yaml.safe_load(stored["data"]["ClusterConfiguration"])  # type: ignore[index]
    kubelet_cm = client.get("/api/v1/namespaces/kube-system/configmaps/kubelet-config") or {}
    kubelet = yaml.safe_load((kubelet_cm.get("data") or {}).get("kubelet") or "{}")
    control_plane = join_config.get("controlPlane")
    if control_plane is not None:
        join_control_plane(client, node, control_plane, cluster)
    pki.PKI.mkdir(parents=True, exist_ok=True)
    if not (pki.PKI / "ca.crt").exists():
        write(pki.PKI / "ca.crt", ca_pem)
    server = f"https://{endpoint}"
    if control_plane is None:
        pki.kubeconfig(
            "/etc/kubernetes/bootstrap-kubelet.conf",
            server,
            "tls-bootstrap-token-user",
            token=token,
        )
    kubelet_start(node, registration, kubelet, taints=control_plane is None)
    say("[kubelet-check] Waiting for a healthy kubelet")
    wait_for_node(client, node)
    if control_plane is not None:
        mark_control_plane(client, node, registration)
    say("\nThis node has joined the cluster.\n")


def _quiet_get(client: Client, path: str) -> Obj | None:
    try:
        found = client.get(path)
    except OSError:
        return None
    return found.get("data") if found else None


def join_control_plane(client: Client, node: str, control_plane: Obj, cluster: Obj) -> None:
    for name in ("ca", "front-proxy-ca", "etcd/ca"):
        if not (pki.PKI / f"{name}.key").exists():
            fail(f"failure loading certificate authority {name}: /etc/kubernetes/pki/{name}.key missing "
                 "(kind copies the CAs before joining control planes)")  # fmt: skip
    local = control_plane.get("localAPIEndpoint") or {}
    advertise = local.get("advertiseAddress") or socket.gethostbyname(socket.gethostname())
    port = int(local.get("bindPort") or 6443)
    endpoint = cluster.get("controlPlaneEndpoint") or f"{advertise}:{port}"
    pods = client.get("/api/v1/namespaces/kube-system/pods?labelSelector=component%3Detcd") or {}
    urls = [((p.get("metadata") or {}).get("annotations") or {}).get("kubeadm.kubernetes.io/etcd.advertise-client-urls")
            for p in pods.get("items") or []]  # fmt: skip
    urls = [u for u in urls if u]
    if not urls:
        fail("etcd cluster is not healthy: no etcd endpoint found (etcd mirror pods carry none)")
    say(f"[control-plane-join] Using the existing etcd cluster at {urls[0]}")
    api_server_certs(node, advertise, endpoint, cluster)
    control_plane_kubeconfigs(node, f"https://{endpoint}", f"https://{advertise}:{port}")
    control_plane_manifests(advertise, port, cluster, urls[0])


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        say("Usage: kubeadm [init|join|version]")
        return
    if argv[0] == "version":
        short = "-o" in argv and "short" in argv
        version = kube_version()
        say(version if short else f'kubeadm version: &version.Info{{GitVersion:"{version}"}}')
        return
    if argv[0] == "init":
        init(argv[1:])
    elif argv[0] == "join":
        join(argv[1:])
    else:
        sys.stderr.write(f'unknown command "{argv[0]}" for "kubeadm"\n')
        sys.exit(1)


if __name__ == "__main__":
    main()
