"""`kindfleet up` with the real kind: a hub (three control planes behind kind's load
balancer) and three spokes created in parallel, each `kind create` writing a kubeconfig
of its own while the user's is locked by someone else (kind#1425), contexts merged after;
then what kind made, read back with docker, kubectl and kind itself.

The fleet is created once for the session (article.py); these tests only read it.
"""

from __future__ import annotations

import json
import stat
import subprocess

import pytest
import yaml
from tests.integration.kindreal.article import CPU, EDGE, GPU, HUB, LOCK_HOLD_SECONDS, NAME, Article
from tests.integration.kindreal.fleets import inspect
from tests.integration.kindreal.harness import docker

from kindfleet import kubeconfig as kc

pytestmark = [pytest.mark.docker, pytest.mark.slow]
CLUSTERS = [HUB, GPU, CPU, EDGE]


def test_the_clusters_were_created_in_parallel_each_with_its_own_kubeconfig(up: Article) -> None:
    assert up.result is not None
    assert [(o.name, o.action, o.ok) for o in up.result.outcomes] == [
        (c, "create", True) for c in CLUSTERS
    ]
    creating = [(e.cluster, e.phase) for _, e in up.events if e.step == "creating"]
    assert [phase for _, phase in creating[:4]] == ["start"] * 4  # all began before one ended
    creates = up.kind_creates()
    assert sorted(c.argv[c.argv.index("--name") + 1] for c in creates) == sorted(CLUSTERS)
    files = [c.argv[c.argv.index("--kubeconfig") + 1] for c in creates]
    assert len(set(files)) == 4 and str(up.kubeconfig) not in files  # kind never wrote the user's


def test_merges_waited_for_another_writers_lock_and_lost_nothing(up: Article) -> None:
    """kind#1425: a writer holding the user's kubeconfig lock while clusters finish. kind
    would fail (see the control experiment below); kindfleet's merges wait their turn."""
    assert up.lock_window is not None
    taken, released = up.lock_window
    assert released - taken >= LOCK_HOLD_SECONDS
    created = [t for t, e in up.events if e.step == "creating" and e.phase == "done"]
    assert taken <= min(created) + 1  # held from the first creation on
    began = [t for t, e in up.events if e.step == "merging kubeconfig" and e.phase == "start"]
    merged = [t for t, e in up.events if e.step == "merging kubeconfig" and e.phase == "done"]
    assert len(merged) == 4 and min(began) < released - LOCK_HOLD_SECONDS + 1  # one waited
    assert all(t >= released for t in merged)  # and none wrote while the lock was held
    config = kc.KubeconfigFile(up.kubeconfig).read()
    assert sorted(kc.context_names(config)) == sorted(f"kind-{c}" for c in CLUSTERS)
    assert config["current-context"] == f"kind-{HUB}"
    assert stat.S_IMODE(up.kubeconfig.stat().st_mode) == 0o600
    assert not up.kubeconfig.with_name(up.kubeconfig.name + ".lock").exists()


def test_control_kind_itself_fails_on_a_shared_kubeconfig_another_writer_holds(up: Article) -> None:
    """The control experiment: kind writing a shared kubeconfig (what `kind create
    cluster` does last, with ~150 ms of retries) while another writer holds its lock."""
    shared = up.env.base / "shared.kubeconfig"
    lock = shared.with_name(shared.name + ".lock")
    lock.write_text("")
    try:
        for cluster in CLUSTERS:
            proc = up.env.kind("export", "kubeconfig", "--name", cluster, "--kubeconfig",
                               str(shared), check=False)  # fmt: skip
            assert proc.returncode == 1
            assert "failed to lock config file" in proc.stderr
    finally:
        lock.unlink()
    assert not shared.exists() or not kc.context_names(kc.KubeconfigFile(shared).read())
    up.env.kind("export", "kubeconfig", "--name", HUB, "--kubeconfig", str(shared))
    assert kc.context_names(kc.KubeconfigFile(shared).read()) == [f"kind-{HUB}"]


def test_status_reports_what_kind_and_kubectl_see(up: Article) -> None:
    state = up.fleet().status()
    assert state.ready and [c.name for c in state.clusters] == CLUSTERS
    for cluster in state.clusters:
        server = yaml.safe_load(up.env.kind("get", "kubeconfig", "--name", cluster.name).stdout)
        assert cluster.endpoint == server["clusters"][0]["cluster"]["server"]  # as kind wrote it
    hub = state.clusters[0]
    lb = f"{HUB}-external-load-balancer"
    port = docker("port", lb, "6443/tcp").stdout.split()[0].rpartition(":")[2]
    assert hub.endpoint == f"https://127.0.0.1:{port}"  # the load balancer, not a node
    assert [(n.name, n.role) for n in hub.nodes] == [
        (lb, "external-load-balancer"),
        (f"{HUB}-control-plane", "control-plane"),
        (f"{HUB}-control-plane2", "control-plane"),
        (f"{HUB}-control-plane3", "control-plane"),
        (f"{HUB}-worker", "worker"),
    ]
    nodes = [n for c in state.clusters for n in c.nodes if n.role != "external-load-balancer"]
    assert all(n.ready and n.state == "running" and n.memory_bytes for n in nodes)
    assert {n.kubernetes_version for n in nodes} == {"v1.35.8"}
    assert all(n.address for n in nodes)
    gpu_worker = state.clusters[1].nodes[1]
    assert (gpu_worker.name, gpu_worker.labels["gpu"]) == (f"{GPU}-worker", "true")
    assert state.registry is not None and state.registry.running
    assert up.env.kind.network in state.registry.networks


def test_every_node_pulls_from_the_registry_through_its_hosts_toml(up: Article) -> None:
    registry = f"{NAME}-registry"
    certs = f"/etc/containerd/certs.d/localhost:{up.registry_port}"
    nodes = [n for c in CLUSTERS for n in up.env.kind("get", "nodes", "--name", c).stdout.split()
             if not n.endswith("external-load-balancer")]  # fmt: skip
    assert len(nodes) == 8  # the hub's 4, gpu's 2, cpu's and edge's
    for node in nodes:
        assert docker("exec", node, "cat", f"{certs}/hosts.toml").stdout == (
            f'[host."http://{registry}:5000"]\n'
        )
        config = docker("exec", node, "cat", "/etc/containerd/config.toml").stdout
        assert 'config_path = "/etc/containerd/certs.d"' in config  # kind applied the patch
        journal = docker("exec", node, "journalctl", "--no-pager", "-u", "containerd").stdout
        loads = [line for line in journal.splitlines() if 'msg="loaded config"' in line]
        assert 'registry_config_path="/etc/containerd/certs.d"' in loads[-1]  # and it runs so
    pushed = f"localhost:{up.registry_port}/{NAME}/pushed:1"
    subprocess.run(["docker", "tag", up.env.registry_image, pushed], check=True)
    subprocess.run(["docker", "push", pushed], check=True, capture_output=True, timeout=120)
    catalog = docker("exec", nodes[-1], "python3", "-c", "import urllib.request; print(urllib."
                     f"request.urlopen('http://{registry}:5000/v2/_catalog').read().decode())")  # fmt: skip
    assert f"{NAME}/pushed" in json.loads(catalog.stdout)["repositories"]
    for cluster in CLUSTERS:
        cm = up.env.kind.kubectl("--context", f"kind-{cluster}", "-n", "kube-public", "get", "cm",
                                 "local-registry-hosting", "-o", "json", kubeconfig=up.kubeconfig)  # fmt: skip
        hosting = yaml.safe_load(json.loads(cm.stdout)["data"]["localRegistryHosting.v1"])
        assert hosting == {"host": f"localhost:{up.registry_port}",
                           "hostFromClusterNetwork": f"{registry}:5000",
                           "help": "https://kind.sigs.k8s.io/docs/user/local-registry/"}  # fmt: skip


def test_calico_runs_with_the_allocated_range_vxlan_cross_subnet_and_preloaded_images(
    up: Article,
) -> None:
    spec = up.fleet().spec
    for name in (GPU, CPU):
        kubectl = up.env.kind.kubectl
        ds = json.loads(kubectl("--context", f"kind-{name}", "-n", "kube-system", "get", "ds",
                                "calico-node", "-o", "json", kubeconfig=up.kubeconfig).stdout)  # fmt: skip
        env = {
            e["name"]: e.get("value")
            for e in ds["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env["CALICO_IPV4POOL_CIDR"] == spec.cluster(name).networking.pod_subnet
        assert (env["CALICO_IPV4POOL_IPIP"], env["CALICO_IPV4POOL_VXLAN"]) == (
            "Never",
            "CrossSubnet",
        )
        for node in up.env.kind("get", "nodes", "--name", name).stdout.split():
            loaded = docker("exec", node, "ctr", "--namespace=k8s.io", "images", "ls", "-q").stdout
            assert all(
                f"docker.io/{image}" in loaded.split() for image in up.env.calico_images.values()
            )
    warned = [e.message for _, e in up.events if e.phase == "warn" and e.cluster == CPU]
    assert any(
        w.startswith(f"{'quay.io/calico/kube-controllers:v3.32.1'} not pulled here") for w in warned
    )
    notes = [e.message for _, e in up.events if e.cluster == GPU and e.step.startswith("installing Calico")
             and e.phase == "done"]  # fmt: skip
    assert notes and notes[0].endswith("VXLANCrossSubnet; 2 of 3 images loaded from this machine")
    edge = up.env.kind.kubectl("--context", f"kind-{EDGE}", "-n", "kube-system", "get", "ds",
                               "-o", "name", kubeconfig=up.kubeconfig).stdout.split()  # fmt: skip
    assert "daemonset.apps/kindnet" in edge and "daemonset.apps/calico-node" not in edge


def test_the_ha_hub_answers_through_kinds_load_balancer(up: Article) -> None:
    lb = f"{HUB}-external-load-balancer"
    assert inspect(lb)["Config"]["Labels"]["io.x-k8s.kind.role"] == "external-load-balancer"
    port = docker("port", lb, "6443/tcp").stdout.split()[0].rpartition(":")[2]
    assert up.fleet().kubeconfig(HUB).count(f"server: https://127.0.0.1:{port}") == 1
    endpoints = json.loads(up.env.kind.kubectl("--context", f"kind-{HUB}", "get", "endpoints",
                                               "kubernetes", "-o", "json", kubeconfig=up.kubeconfig).stdout)  # fmt: skip
    assert len({a["ip"] for a in endpoints["subsets"][0]["addresses"]}) == 3
    log = docker("logs", lb).stdout
    for node in ("control-plane", "control-plane2", "control-plane3"):
        assert f"host {HUB}-{node}:6443 healthy" in log


def test_internal_kubeconfig_reaches_the_hub_from_a_spoke_node(up: Article) -> None:
    internal = yaml.safe_load(up.fleet().kubeconfig(HUB, internal=True))
    server = internal["clusters"][0]["cluster"]["server"]
    assert server == f"https://{HUB}-external-load-balancer:6443"
    script = ("import json, ssl, urllib.request; context = ssl._create_unverified_context(); "
              f"print(json.load(urllib.request.urlopen('{server}/version', context=context))"
              "['gitVersion'])")  # fmt: skip
    assert (
        docker("exec", f"{CPU}-control-plane", "python3", "-c", script).stdout.strip() == "v1.35.8"
    )


def test_up_again_keeps_everything(up: Article) -> None:
    again = up.fleet().up(kubeconfig=up.kubeconfig, calico_manifest=str(up.env.calico),
                          skip_checks=("cgroup", "inotify"))  # fmt: skip
    assert [o.action for o in again.outcomes] == ["keep"] * 4 and not again.registry_created
