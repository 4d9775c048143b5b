"""The REAL kind CLI creates, serves, loads into, exports and deletes clusters here.

Only the insides of the nodes are simulated (tests/doubles/kindnode: node image, envoy
stand-in) and `--privileged` is dropped by a docker wrapper; kind itself, the docker
engine, the containers and their network, labels and port mappings, the kubeconfig
handling and kubectl are real. Each test asserts on what those real pieces observe.
"""

from __future__ import annotations

import io
import json
import socket
import tarfile
import urllib.request
from pathlib import Path

import pytest
import yaml
from tests.integration.kindreal.harness import PREFIX, Kind, docker, poll

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PAIR = f"{PREFIX}-pair"
PATCH_MARK = f"{PREFIX}-mirror"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


HOST_PORT = free_port()
PAIR_CONFIG = f"""\
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
containerdConfigPatches:
  - |-
    [plugins."io.containerd.grpc.v1.cri".registry.mirrors."{PATCH_MARK}:5000"]
      endpoint = ["http://{PATCH_MARK}:5000"]
nodes:
  - role: control-plane
    labels: {{plane: management, tier: edge}}
    extraPortMappings:
      - {{containerPort: 30080, hostPort: {HOST_PORT}, listenAddress: 127.0.0.1}}
  - role: worker
    labels: {{plane: workload}}
"""


def nodes_json(kind: Kind, kubeconfig: Path | None = None) -> list[dict] | None:
    proc = kind.kubectl("get", "nodes", "-o", "json", kubeconfig=kubeconfig)
    return json.loads(proc.stdout)["items"] if proc.returncode == 0 else None


def all_ready(kind: Kind, count: int, kubeconfig: Path | None = None) -> list[dict] | None:
    items = nodes_json(kind, kubeconfig)
    if not items or len(items) != count:
        return None
    ready = [c for n in items for c in n["status"].get("conditions", []) if c["type"] == "Ready"]
    return items if len(ready) == count and all(c["status"] == "True" for c in ready) else None


@pytest.fixture(scope="module")
def pair(kind: Kind, tmp_path_factory: pytest.TempPathFactory) -> str:
    kind.create(PAIR, PAIR_CONFIG, tmp_path_factory.mktemp("pair"))
    return PAIR


def test_create_runs_unmodified_kind_minus_privileged(kind: Kind, pair: str) -> None:
    calls = [c for c in wrapper_calls(kind) if f"{pair}-" in " ".join(c.argv)]
    runs = [c for c in calls if c.argv[:1] == ["run"]]
    assert len(runs) == 2
    for call in runs:
        assert call.removed == ["--privileged"]
        assert call.forwarded == [a for a in call.argv if a != "--privileged"]
        assert "seccomp=unconfined" in call.forwarded and kind.node_image in call.forwarded
    assert any(c.argv[:2] == ["exec", "--privileged"] and "kubeadm" in c.argv for c in calls)
    assert all(c.forwarded == [a for a in c.argv if a not in c.removed] for c in calls)


def wrapper_calls(kind: Kind) -> list:
    from tests.doubles.kindnode import wrapper

    return wrapper.calls(kind.docker_log)


def test_containers_network_and_labels_are_kinds(kind: Kind, pair: str) -> None:
    assert pair in kind("get", "clusters").stdout.split()
    assert sorted(kind("get", "nodes", "--name", pair).stdout.split()) == [
        f"{pair}-control-plane", f"{pair}-worker"]  # fmt: skip
    inspect = json.loads(docker("inspect", f"{pair}-control-plane", f"{pair}-worker").stdout)
    roles = {c["Name"].lstrip("/"): c["Config"]["Labels"]["io.x-k8s.kind.role"] for c in inspect}
    assert roles == {f"{pair}-control-plane": "control-plane", f"{pair}-worker": "worker"}
    assert all(kind.network in c["NetworkSettings"]["Networks"] for c in inspect)
    assert all(not c["HostConfig"]["Privileged"] for c in inspect)


def test_containerd_config_patch_landed_and_was_loaded(kind: Kind, pair: str) -> None:
    for node in (f"{pair}-control-plane", f"{pair}-worker"):
        config = docker("exec", node, "cat", "/etc/containerd/config.toml").stdout
        assert f'registry.mirrors."{PATCH_MARK}:5000"' in config
        assert f'endpoint = ["http://{PATCH_MARK}:5000"]' in config
        assert 'snapshotter = "overlayfs"' in config  # the rest of the node's config kept
        journal = docker("exec", node, "journalctl", "--no-pager", "-u", "containerd").stdout
        loads = [line for line in journal.splitlines() if 'msg="loaded config"' in line]
        # containerd runs with the patched file: kind restarted it after patching (or, had
        # kind patched before containerd started, it read the patched file at boot)
        assert f'registry_mirrors=["{PATCH_MARK}:5000"]' in loads[-1]


def test_kubeconfig_external_and_internal(kind: Kind, pair: str) -> None:
    exported = yaml.safe_load(kind.kubeconfig.read_text())
    assert exported["current-context"] == f"kind-{pair}"
    external = yaml.safe_load(kind("get", "kubeconfig", "--name", pair).stdout)
    port = docker("port", f"{pair}-control-plane", "6443/tcp").stdout.split()[0].rpartition(":")[2]
    assert external["clusters"][0]["cluster"]["server"] == f"https://127.0.0.1:{port}"
    internal = yaml.safe_load(kind("get", "kubeconfig", "--name", pair, "--internal").stdout)
    assert internal["clusters"][0]["cluster"]["server"] == f"https://{pair}-control-plane:6443"
    assert internal["users"][0]["user"]["client-certificate-data"]


def test_kubectl_sees_ready_nodes_with_labels_and_taints(kind: Kind, pair: str) -> None:
    items = poll(lambda: all_ready(kind, 2), 60, "both nodes Ready")
    by_name = {n["metadata"]["name"]: n for n in items}
    control, worker = by_name[f"{pair}-control-plane"], by_name[f"{pair}-worker"]
    assert control["metadata"]["labels"]["plane"] == "management"
    assert control["metadata"]["labels"]["tier"] == "edge"
    assert "node-role.kubernetes.io/control-plane" in control["metadata"]["labels"]
    assert worker["metadata"]["labels"]["plane"] == "workload"
    assert control["spec"]["taints"] == [
        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
    ]
    assert control["spec"]["providerID"] == f"kind://docker/{pair}/{pair}-control-plane"
    table = kind.kubectl("get", "nodes").stdout
    assert f"{pair}-worker " in table and "NotReady" not in table
    kindnet = json.loads(
        kind.kubectl("get", "daemonset", "kindnet", "-n", "kube-system", "-o", "json").stdout
    )
    env = {
        e["name"]: e.get("value")
        for e in kindnet["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["POD_SUBNET"] == "10.244.0.0/16"  # kind templated the node's manifest
    assert env["CONTROL_PLANE_ENDPOINT"] == f"{pair}-control-plane:6443"  # and patched it
    assert "standard" in kind.kubectl("get", "storageclass").stdout


def test_extra_port_mapping_reaches_the_node(kind: Kind, pair: str) -> None:
    node = f"{pair}-control-plane"
    docker("exec", "-d", node, "python3", "-m", "http.server", "30080", "--directory", "/kind")
    body = poll(
        lambda: _get(f"http://127.0.0.1:{HOST_PORT}/version"), 20, "the mapped port to answer"
    )
    assert body.strip() == "v1.35.8"


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.read().decode()
    except OSError:
        return None


def small_image(tag: str) -> str:
    """A one-file image made here (nothing can be pulled), tagged with this run's prefix."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = f"made for {tag}\n".encode()
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    docker_import = ["docker", "import", "-", tag]
    import subprocess

    subprocess.run(docker_import, input=buffer.getvalue(), check=True, capture_output=True)
    return docker("image", "inspect", "-f", "{{.Id}}", tag).stdout.strip()


def test_load_docker_image_into_every_node(kind: Kind, pair: str) -> None:
    tag = f"kindfleet-test/{PREFIX}-smoke:1"
    image_id = small_image(tag)
    loaded = kind("load", "docker-image", tag, "--name", pair)
    assert loaded.stderr.count("not yet present on node") == 2
    for node in (f"{pair}-control-plane", f"{pair}-worker"):
        names = docker(
            "exec", node, "ctr", "--namespace=k8s.io", "images", "ls", "-q"
        ).stdout.split()
        assert f"docker.io/{tag}" in names
        status = json.loads(docker("exec", node, "crictl", "inspecti", tag).stdout)["status"]
        assert status["id"] == image_id
    again = kind("load", "docker-image", tag, "--name", pair)
    assert "found to be already present on all nodes" in again.stderr


def test_export_logs(kind: Kind, pair: str, tmp_path: Path) -> None:
    kind("export", "logs", str(tmp_path), "--name", pair)
    assert (tmp_path / "docker-info.txt").read_text()
    for node in (f"{pair}-control-plane", f"{pair}-worker"):
        where = tmp_path / node
        assert (where / "kubernetes-version.txt").read_text().strip() == "v1.35.8"
        assert (
            "Reached target multi-user.target - Multi-User System."
            in (where / "serial.log").read_text()
        )
        assert "Successfully registered node" in (where / "kubelet.log").read_text()
        assert "loaded config" in (where / "containerd.log").read_text()
        assert f"docker.io/kindfleet-test/{PREFIX}-smoke" in (where / "images.log").read_text()
        assert json.loads((where / "inspect.json").read_text())[0]["Name"] == f"/{node}"
        assert (where / "journal.log").read_text().strip()
    pods = list(
        (tmp_path / f"{pair}-control-plane" / "pods").glob("kube-system_kube-apiserver-*/*/0.log")
    )
    assert pods and "Serving securely" in pods[0].read_text()


def test_delete_cluster_leaves_nothing(kind: Kind, pair: str) -> None:
    kind("delete", "cluster", "--name", pair)
    left = docker(
        "ps", "-a", "--filter", f"label=io.x-k8s.kind.cluster={pair}", "--format", "{{.Names}}"
    )
    assert left.stdout.split() == []
    assert pair not in kind("get", "clusters").stdout.split()
    assert f"kind-{pair}" not in kind.kubeconfig.read_text()
