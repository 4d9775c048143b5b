"""A faithful stand-in for the `kind` CLI, for machines that cannot pull a node image.

It does what kind does with Docker, for real: node containers named `<cluster>-control-plane`,
`<cluster>-worker`, `<cluster>-worker2`, labelled `io.x-k8s.kind.cluster=<cluster>` and
`io.x-k8s.kind.role=<role>`, hostname = name, on the `kind` network (or
$KIND_EXPERIMENTAL_DOCKER_NETWORK), the API server port published on 127.0.0.1, the
config's extraPortMappings and extraMounts; kubeadm's admin.conf written in the control
plane; kubeconfig entries `kind-<cluster>` merged into --kubeconfig; the same messages on
stderr, data on stdout, `ERROR: ...` and exit 1 on failure, nodes removed after a failed
create unless --retain.

What needs a node image is replaced: the node containers run a locally built busybox
image (`KIND_DOUBLE_NODE_IMAGE`) with the host's /usr mounted read-only (python3,
openssl), and the control plane runs `apiserver.py`, a small Kubernetes API that the
real kubectl talks to over TLS.

Knobs for tests: KIND_DOUBLE_FAIL (comma-separated cluster names whose creation fails
after the nodes exist), KIND_DOUBLE_DELAY (seconds spent "starting the control-plane"),
KIND_DOUBLE_READY_DELAY (seconds before nodes and DaemonSet pods turn Ready),
KIND_DOUBLE_VERSION (what `kind version` says), KIND_DOUBLE_IPV6=0 (create the network
IPv4-only, as kind does when the daemon has no IPv6: parallel first creates can then make
same-named networks, kind#1596).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CLUSTER_LABEL = "io.x-k8s.kind.cluster"
ROLE_LABEL = "io.x-k8s.kind.role"
IMAGE_LABEL = "dev.kindfleet.double.requested-image"
VERSION = os.environ.get("KIND_DOUBLE_VERSION", "v0.33.0")
DEFAULT_IMAGE = "kindest/node:v1.37.0"
CLUSTER_FIELDS = {
    "kind",
    "apiVersion",
    "name",
    "featureGates",
    "runtimeConfig",
    "networking",
    "nodes",
    "kubeadmConfigPatches",
    "kubeadmConfigPatchesJSON6902",
    "containerdConfigPatches",
    "containerdConfigPatchesJSON6902",
}
NODE_FIELDS = {
    "role",
    "image",
    "labels",
    "extraMounts",
    "extraPortMappings",
    "kubeadmConfigPatches",
    "kubeadmConfigPatchesJSON6902",
}


class Failure(Exception):
    pass


def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def docker(
    *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["docker", *args], input=stdin, capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        command = shlex.join(["docker", *args])
        raise Failure(
            f'command "{command}" failed with error: exit status {proc.returncode}\n'
            f"Command Output: {proc.stdout}{proc.stderr}"
        )
    return proc


_WARNED: list[bool] = []


def network() -> str:
    name = os.environ.get("KIND_EXPERIMENTAL_DOCKER_NETWORK")
    if name and not _WARNED:
        _WARNED.append(True)
        log("WARNING: Overriding docker network due to KIND_EXPERIMENTAL_DOCKER_NETWORK")
        log("WARNING: Here be dragons! This is not supported currently.")
    return name or "kind"


def ula_subnet(name: str, attempt: int = 0) -> str:
    """kind's generateULASubnetFromName: fc00::/8 plus sha1(name, attempt) bytes 2..7."""
    import hashlib
    import ipaddress
    import struct

    digest = hashlib.sha1(name.encode() + struct.pack("<i", attempt)).digest()
    raw = bytes([0xFC, 0x00]) + digest[2:8] + bytes(8)
    return f"{ipaddress.IPv6Address(raw)}/64"


def ensure_network(name: str) -> None:
    """kind's ensureNetwork: a bridge with an IPv6 ULA subnet derived from the name, so a
    parallel `kind create` trips on the overlapping pool instead of making a second network
    (IPv4 only when the daemon has no IPv6); duplicates, if any, are removed, oldest kept."""
    if docker("network", "inspect", name, check=False).returncode == 0:
        return
    base = ["network", "create", "-d=bridge", "-o", "com.docker.network.bridge.enable_ip_masquerade=true",
            "-o", "com.docker.network.driver.mtu=1500"]  # fmt: skip
    ipv6 = os.environ.get("KIND_DOUBLE_IPV6", "1") != "0"  # "0": as a daemon without IPv6
    if not ipv6:
        created = docker(*base, name, check=False)
        if created.returncode != 0 and "already exists" not in created.stderr:
            raise Failure(f"failed to create network {name}: {created.stderr.strip()}")
    for attempt in range(5 if ipv6 else 0):
        created = docker(*base, "--ipv6", "--subnet", ula_subnet(name, attempt), name, check=False)
        error = created.stderr
        if created.returncode == 0 or "already exists" in error:
            break
        if "overlaps" in error:
            if docker("network", "inspect", name, check=False).returncode == 0:
                return
            continue
        if "IPv6" in error or "ipv6" in error:
            created = docker(*base, name, check=False)
            if created.returncode == 0 or "already exists" in created.stderr:
                break
        raise Failure(f"failed to create network {name}: {error.strip()}")
    ids = docker(
        "network", "ls", "--filter", f"name=^{name}$", "--format", "{{.ID}}"
    ).stdout.split()
    if len(ids) > 1:
        found = docker("network", "inspect", "--format", "{{.Created}} {{.Id}}", *ids, check=False)
        ordered = sorted(line.split() for line in found.stdout.splitlines() if line.strip())
        for _, network_id in ordered[1:]:
            docker("network", "rm", network_id, check=False)


def nodes_of(cluster: str) -> list[str]:
    out = docker(
        "ps", "-a", "--filter", f"label={CLUSTER_LABEL}={cluster}", "--format", "{{.Names}}"
    )
    return [line for line in out.stdout.split() if line]


def node_names(cluster: str, nodes: list[dict]) -> list[tuple[str, str]]:
    counts = {"control-plane": 0, "worker": 0}
    out = []
    for node in nodes:
        role = node.get("role", "control-plane")
        counts[role] += 1
        suffix = "" if counts[role] == 1 else str(counts[role])
        out.append((f"{cluster}-{role}{suffix}", role))
    return out


def free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


# --- certificates --------------------------------------------------------------------


def openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise Failure(f"openssl {' '.join(args)} failed: {proc.stderr}")


def make_pki(cluster: str) -> dict[str, str]:
    """A CA, a serving certificate for the API and an admin client certificate, as kubeadm makes."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        openssl("req", "-x509", *ec, "-days", "365", "-subj", "/CN=kubernetes",
                "-keyout", "ca.key", "-out", "ca.crt",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature", cwd=d)  # fmt: skip
        sans = f"DNS:{cluster}-control-plane,DNS:localhost,DNS:kubernetes,IP:127.0.0.1"
        (d / "server.ext").write_text(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\n")
        (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
        for name, subject in (("server", "/CN=kube-apiserver"),
                              ("client", "/O=kubeadm:cluster-admins/CN=kubernetes-admin")):  # fmt: skip
            openssl("req", "-new", *ec, "-subj", subject, "-keyout", f"{name}.key",
                    "-out", f"{name}.csr", cwd=d)  # fmt: skip
            openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                    "-CAcreateserial", "-days", "365", "-out", f"{name}.crt",
                    "-extfile", f"{name}.ext", cwd=d)  # fmt: skip
        return {
            n: (d / n).read_text()
            for n in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")
        }


def b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def admin_conf(cluster: str, pki: dict[str, str]) -> str:
    """kubeadm's admin.conf: the API at its internal address, kubeadm's own names."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kubernetes", "cluster": {
                "certificate-authority-data": b64(pki["ca.crt"]),
                "server": f"https://{cluster}-control-plane:6443"}}],
            "users": [{"name": "kubernetes-admin", "user": {
                "client-certificate-data": b64(pki["client.crt"]),
                "client-key-data": b64(pki["client.key"])}}],
            "contexts": [{"name": "kubernetes-admin@kubernetes",
                          "context": {"cluster": "kubernetes", "user": "kubernetes-admin"}}],
            "current-context": "kubernetes-admin@kubernetes",
            "preferences": {},
        },
        sort_keys=False,
    )  # fmt: skip


# --- kubeconfig ----------------------------------------------------------------------


def kubeconfig_path(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    env = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return Path(env[0]) if env else Path.home() / ".kube" / "config"


def read_config(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        data = {}
    for section in ("clusters", "users", "contexts"):
        data[section] = data.get(section) or []
    data.setdefault("apiVersion", "v1")
    data.setdefault("kind", "Config")
    return data


def write_config(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".kind-double")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(path)


def kind_entries(cluster: str, internal: bool) -> dict:
    """`kind get kubeconfig`: admin.conf with kind's names and, unless internal, the
    published host address."""
    text = docker("exec", f"{cluster}-control-plane", "cat", "/etc/kubernetes/admin.conf").stdout
    conf = yaml.safe_load(text)
    key = f"kind-{cluster}"
    server = conf["clusters"][0]["cluster"]["server"]
    if not internal:
        port = docker("port", f"{cluster}-control-plane", "6443/tcp").stdout.split()[0]
        host, _, number = port.rpartition(":")
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        server = f"https://{host}:{number}"
    conf["clusters"][0]["name"] = key
    conf["clusters"][0]["cluster"]["server"] = server
    conf["users"][0]["name"] = key
    conf["contexts"] = [{"name": key, "context": {"cluster": key, "user": key}}]
    conf["current-context"] = key
    return conf


def merge_into(path: Path, entries: dict) -> None:
    data = read_config(path)
    for section in ("clusters", "users", "contexts"):
        names = {e["name"] for e in entries[section]}
        data[section] = [e for e in data[section] if e.get("name") not in names] + entries[section]
    data["current-context"] = entries["current-context"]
    write_config(path, data)


def remove_from(path: Path, cluster: str) -> None:
    if not path.exists():
        return
    key = f"kind-{cluster}"
    data = read_config(path)
    for section in ("clusters", "users", "contexts"):
        data[section] = [e for e in data[section] if e.get("name") != key]
    if data.get("current-context") == key:
        data["current-context"] = ""
    write_config(path, data)


# --- commands ------------------------------------------------------------------------


def load_config(source: str | None) -> dict:
    if source is None:
        return {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4"}
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    config = yaml.safe_load(text) or {}
    if config.get("apiVersion") != "kind.x-k8s.io/v1alpha4" or config.get("kind") != "Cluster":
        raise Failure("unable to decode config: expected kind.x-k8s.io/v1alpha4 Cluster")
    unknown = set(config) - CLUSTER_FIELDS
    for node in config.get("nodes") or []:
        unknown |= set(node) - NODE_FIELDS
    if unknown:
        raise Failure(f'unable to decode config: unknown field "{sorted(unknown)[0]}"')
    return config


def run_args(name: str, role: str, cluster: str, node: dict, requested: str) -> list[str]:
    args = [
        "run", "--detach", "--name", name, "--hostname", name,
        "--label", f"{CLUSTER_LABEL}={cluster}", "--label", f"{ROLE_LABEL}={role}",
        "--label", f"{IMAGE_LABEL}={requested}",
        "--network", network(), "--restart=on-failure:1",
        "--tmpfs", "/tmp", "--tmpfs", "/run",
        "--volume=/usr:/usr:ro",  # the host's userland (python3, openssl): what a node OS has
    ]  # fmt: skip
    for mapping in node.get("extraPortMappings") or []:
        listen = mapping.get("listenAddress", "0.0.0.0")
        host = mapping.get("hostPort", 0) or ""
        proto = str(mapping.get("protocol", "TCP")).lower()
        args.append(f"--publish={listen}:{host}:{mapping['containerPort']}/{proto}")
    for mount in node.get("extraMounts") or []:
        spec = f"{Path(mount['hostPath']).resolve()}:{mount['containerPath']}"
        args.append(f"--volume={spec}{':ro' if mount.get('readOnly') else ''}")
    return args


def create_cluster(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    cluster = args.name or os.environ.get("KIND_CLUSTER_NAME") or config.get("name") or "kind"
    log(f'Creating cluster "{cluster}" ...')
    if nodes_of(cluster):
        raise Failure(f'node(s) already exist for a cluster with the name "{cluster}"')
    nodes = config.get("nodes") or [{"role": "control-plane"}]
    if sum(1 for n in nodes if n.get("role", "control-plane") == "control-plane") != 1:
        raise Failure("the kind double supports exactly one control-plane node")
    names = node_names(cluster, nodes)
    requested = args.image or nodes[0].get("image") or DEFAULT_IMAGE
    log(f" ✓ Ensuring node image ({requested}) 🖼")
    image = os.environ.get("KIND_DOUBLE_NODE_IMAGE", "kindfleet-test/node:double")
    net = config.get("networking") or {}
    ensure_network(network())
    made: list[str] = []
    try:
        pki = make_pki(cluster)
        version = requested.split(":")[1].split("@")[0] if ":" in requested else "v1.37.0"
        state = {
            "name": cluster,
            "version": version,
            "disableDefaultCNI": bool(net.get("disableDefaultCNI")),
            "podSubnet": net.get("podSubnet", "10.244.0.0/16"),
            "serviceSubnet": net.get("serviceSubnet", "10.96.0.0/16"),
            "nodes": [
                {
                    "name": n,
                    "role": r,
                    "labels": {str(k): str(v) for k, v in (node.get("labels") or {}).items()},
                }
                for (n, r), node in zip(names, nodes, strict=True)
            ],
        }
        for (name, role), node in zip(names, nodes, strict=True):
            argv = run_args(name, role, cluster, node, node.get("image") or requested)
            if role == "control-plane":
                address = net.get("apiServerAddress", "127.0.0.1")
                port = net.get("apiServerPort") or free_port(address)
                argv += [
                    f"--publish={address}:{port}:6443/TCP",
                    "-e", "KUBECONFIG=/etc/kubernetes/admin.conf",
                    "-e", f"KIND_DOUBLE_CLUSTER={json.dumps(state)}",
                    "-e", f"KIND_DOUBLE_READY_DELAY={os.environ.get('KIND_DOUBLE_READY_DELAY', '0.5')}",
                    "-e", f"KIND_DOUBLE_TLS_CERT={b64(pki['server.crt'])}",
                    "-e", f"KIND_DOUBLE_TLS_KEY={b64(pki['server.key'])}",
                    "-e", f"KIND_DOUBLE_TLS_CA={b64(pki['ca.crt'])}",
                    f"--volume={HERE}:/kind-double:ro",
                    image, "/usr/bin/python3", "/kind-double/apiserver.py",
                ]  # fmt: skip
            else:
                argv += [image, "/bin/sleep", "2147483647"]
            made.append(name)
            docker(*argv)
        log(f" ✓ Preparing nodes {'📦 ' * len(names)}".rstrip())
        for name, _ in names:
            docker("exec", "-i", name, "sh", "-c", "mkdir -p /kind && cat > /kind/config.yaml",
                   stdin=yaml.safe_dump(config))  # fmt: skip
        docker("exec", "-i", f"{cluster}-control-plane", "sh", "-c",
               "mkdir -p /etc/kubernetes && cat > /etc/kubernetes/admin.conf",
               stdin=admin_conf(cluster, pki))  # fmt: skip
        log(" ✓ Writing configuration 📜")
        time.sleep(float(os.environ.get("KIND_DOUBLE_DELAY", "0")))
        if cluster in os.environ.get("KIND_DOUBLE_FAIL", "").split(","):
            raise Failure(
                f'failed to init node with kubeadm: command "docker exec --privileged '
                f"{cluster}-control-plane kubeadm init --skip-phases=preflight "
                f'--config=/kind/kubeadm.conf --skip-token-print --v=6" failed with error: '
                "exit status 1"
            )
        wait_for_api(cluster, pki["ca.crt"])
        log(" ✓ Starting control-plane 🕹️")
        if not net.get("disableDefaultCNI"):
            log(" ✓ Installing CNI 🔌")
        log(" ✓ Installing StorageClass 💾")
        if len(names) > 1:
            log(" ✓ Joining worker nodes 🚜")
    except (Failure, KeyboardInterrupt):
        if made and not args.retain:
            for name in made:
                docker("rm", "-f", "-v", name, check=False)
            log("Deleted nodes: [" + " ".join(f'"{n}"' for n in made) + "]")
        raise
    path = kubeconfig_path(args.kubeconfig)
    merge_into(path, kind_entries(cluster, internal=False))
    log(f'Set kubectl context to "kind-{cluster}"')
    log("You can now use your cluster with:\n")
    extra = f" --kubeconfig {args.kubeconfig}" if args.kubeconfig else ""
    log(f"kubectl cluster-info --context kind-{cluster}{extra}\n")
    log("Thanks for using kind! 😊")
    return 0


def wait_for_api(cluster: str, ca: str, timeout: float = 30.0) -> None:
    port = (
        docker("port", f"{cluster}-control-plane", "6443/tcp").stdout.split()[0].rpartition(":")[2]
    )
    context = ssl.create_default_context(cadata=ca)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(
                f"https://127.0.0.1:{port}/readyz", context=context, timeout=2
            ):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                logs = docker("logs", f"{cluster}-control-plane", check=False)
                raise Failure(
                    f"the API server did not come up: {exc}\n{logs.stdout}{logs.stderr}"
                ) from None
            time.sleep(0.1)


def delete_cluster(args: argparse.Namespace) -> int:
    cluster = args.name or os.environ.get("KIND_CLUSTER_NAME") or "kind"
    log(f'Deleting cluster "{cluster}" ...')
    nodes = nodes_of(cluster)
    if nodes:
        docker("rm", "-f", "-v", *nodes)
        log("Deleted nodes: [" + " ".join(f'"{n}"' for n in nodes) + "]")
    remove_from(kubeconfig_path(args.kubeconfig), cluster)
    return 0


def get_clusters(args: argparse.Namespace) -> int:
    out = docker("ps", "-a", "--filter", f"label={CLUSTER_LABEL}",
                 "--format", f'{{{{.Label "{CLUSTER_LABEL}"}}}}').stdout  # fmt: skip
    names = sorted({line for line in out.split() if line})
    if not names:
        log("No kind clusters found.")
    for name in names:
        print(name)
    return 0


def get_nodes(args: argparse.Namespace) -> int:
    cluster = args.name or "kind"
    if args.all_clusters:
        out = docker(
            "ps", "-a", "--filter", f"label={CLUSTER_LABEL}", "--format", "{{.Names}}"
        ).stdout
        nodes = [line for line in out.split() if line]
    else:
        nodes = nodes_of(cluster)
    if not nodes:
        log(f'No kind nodes found for cluster "{cluster}".')
    for node in nodes:
        print(node)
    return 0


def get_kubeconfig(args: argparse.Namespace) -> int:
    cluster = args.name or "kind"
    if f"{cluster}-control-plane" not in nodes_of(cluster):
        raise Failure(
            f"could not locate any control plane nodes for cluster named '{cluster}'. "
            "Use the --name option to select a different cluster"
        )
    print(yaml.safe_dump(kind_entries(cluster, args.internal), sort_keys=False))
    return 0


def load_image(args: argparse.Namespace) -> int:
    cluster = args.name or "kind"
    nodes = nodes_of(cluster)
    if not nodes:
        raise Failure(f'no nodes found for cluster "{cluster}"')
    if args.nodes:
        for wanted in args.nodes.split(","):
            if wanted not in nodes:
                raise Failure(f'unknown node: "{wanted}"')
        nodes = args.nodes.split(",")
    for image in args.images:
        found = docker("image", "inspect", "--format", "{{.Id}}", image, check=False)
        if found.returncode != 0:
            raise Failure(f'image: "{image}" not present locally')
        image_id = found.stdout.strip()
        marker = f"/kind/images/{image_id.replace(':', '-')}"
        for node in nodes:
            if docker("exec", node, "test", "-e", marker, check=False).returncode == 0:
                continue
            log(
                f'Image: "{image}" with ID "{image_id}" not yet present on node "{node}", loading...'
            )
            docker(
                "exec",
                "-i",
                node,
                "sh",
                "-c",
                f"mkdir -p /kind/images && cat > {marker}",
                stdin=image,
            )
    return 0


def version(args: argparse.Namespace) -> int:
    print(VERSION.lstrip("v") if args.quiet else f"kind {VERSION} go1.24.6 linux/amd64")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="kind", add_help=True)
    root.add_argument("-q", "--quiet", action="store_true")
    root.add_argument("-v", "--verbosity", type=int, default=0)
    verbs = root.add_subparsers(dest="verb", required=True)
    create = (
        verbs.add_parser("create").add_subparsers(dest="what", required=True).add_parser("cluster")
    )
    create.add_argument("-n", "--name")
    create.add_argument("--config")
    create.add_argument("--image")
    create.add_argument("--retain", action="store_true")
    create.add_argument("--wait", default="0s")
    create.add_argument("--kubeconfig")
    create.set_defaults(run=create_cluster)
    delete = (
        verbs.add_parser("delete").add_subparsers(dest="what", required=True).add_parser("cluster")
    )
    delete.add_argument("-n", "--name")
    delete.add_argument("--kubeconfig")
    delete.set_defaults(run=delete_cluster)
    get = verbs.add_parser("get").add_subparsers(dest="what", required=True)
    get.add_parser("clusters").set_defaults(run=get_clusters)
    nodes = get.add_parser("nodes")
    nodes.add_argument("-n", "--name")
    nodes.add_argument("-A", "--all-clusters", action="store_true")
    nodes.set_defaults(run=get_nodes)
    kubeconfig = get.add_parser("kubeconfig")
    kubeconfig.add_argument("-n", "--name")
    kubeconfig.add_argument("--internal", action="store_true")
    kubeconfig.set_defaults(run=get_kubeconfig)
    load = (
        verbs.add_parser("load")
        .add_subparsers(dest="what", required=True)
        .add_parser("docker-image")
    )
    load.add_argument("images", nargs="+")
    load.add_argument("-n", "--name")
    load.add_argument("--nodes")
    load.set_defaults(run=load_image)
    verbs.add_parser("version").set_defaults(run=version)
    return root


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    verb = {"create": "failed to create cluster: ", "delete": "failed to delete cluster: "}
    try:
        return int(args.run(args))
    except Failure as exc:
        log(f"ERROR: {verb.get(args.verb, '')}{exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
