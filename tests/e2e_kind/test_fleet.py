"""A hub and a Calico spoke with a local registry, on real KIND, as a user runs them:
`kindfleet up`, `status`, push to the registry and run the image in a cluster, Calico
ready with the allocated pod range, the hub's internal address seen from the spoke,
`kindfleet down`. Run with `make e2e-kind`; the tests follow each other in file order."""

from __future__ import annotations

import json
import subprocess

import yaml

from tests.e2e_kind.conftest import BUSYBOX, pull_once


def test_up(fleet_run):
    result = fleet_run.kindfleet("up", "--kubeconfig", str(fleet_run.kubeconfig))
    assert result.returncode == 0, result.stderr
    assert f"fleet {fleet_run.name} is up: 2 clusters" in result.stderr
    again = fleet_run.kindfleet("up", "--kubeconfig", str(fleet_run.kubeconfig))
    assert again.returncode == 0, again.stderr
    assert "(kept 2)" in again.stderr


def test_status(fleet_run):
    result = fleet_run.kindfleet("status", "-o", "json")
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    assert state["ready"] is True
    hub, spoke = state["clusters"]
    assert hub["name"] == f"{fleet_run.name}-hub" and hub["endpoint"].startswith(
        "https://127.0.0.1:"
    )
    assert all(n["ready"] and n["memory_bytes"] for c in state["clusters"] for n in c["nodes"])
    assert spoke["nodes"][1]["labels"]["workload-type"] == "compute-intensive"
    assert state["registry"]["running"] is True


def test_calico_runs_with_the_allocated_pod_range(fleet_run):
    spec = yaml.safe_load(fleet_run.kindfleet("validate", "-o", "yaml").stdout)
    spoke = spec["clusters"][1]
    context = f"kind-{spoke['name']}"
    ds = json.loads(
        fleet_run.kubectl(
            context, "-n", "kube-system", "get", "ds", "calico-node", "-o", "json"
        ).stdout
    )
    env = {
        e["name"]: e.get("value") for e in ds["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["CALICO_IPV4POOL_CIDR"] == spoke["networking"]["pod_subnet"]
    fleet_run.kubectl(context, "-n", "kube-system", "wait", "--for=condition=Ready", "pods",
                      "-l", "k8s-app=calico-node", "--timeout=300s")  # fmt: skip
    fleet_run.kubectl(context, "wait", "--for=condition=Ready", "nodes", "--all", "--timeout=300s")


def test_registry_push_and_pull_from_a_cluster(fleet_run):
    state = json.loads(fleet_run.kindfleet("status", "-o", "json").stdout)
    endpoint = state["registry"]["endpoint"]
    image = f"{endpoint}/e2e/busybox:1"
    pull_once(BUSYBOX)
    for argv in (["docker", "tag", BUSYBOX, image], ["docker", "push", image]):
        subprocess.run(argv, check=True, capture_output=True, timeout=600)
    for cluster in state["clusters"]:
        context = cluster["context"]
        cm = fleet_run.kubectl(
            context, "-n", "kube-public", "get", "cm", "local-registry-hosting", "-o", "yaml"
        )
        assert endpoint in cm.stdout
        fleet_run.kubectl(context, "run", "pull-test", f"--image={image}", "--restart=Never",
                          "--", "sh", "-c", "echo pulled")  # fmt: skip
        fleet_run.kubectl(context, "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/pull-test",
                          "--timeout=180s")  # fmt: skip
        assert "pulled" in fleet_run.kubectl(context, "logs", "pull-test").stdout


def test_the_spoke_reaches_the_hub_by_its_internal_address(fleet_run):
    internal = yaml.safe_load(
        fleet_run.kindfleet("kubeconfig", f"{fleet_run.name}-hub", "--internal").stdout
    )
    server = internal["clusters"][0]["cluster"]["server"]
    assert server == f"https://{fleet_run.name}-hub-control-plane:6443"
    spoke = f"kind-{fleet_run.name}-spoke1"
    fleet_run.load_image(BUSYBOX)
    fleet_run.kubectl(spoke, "run", "reach-hub", f"--image={BUSYBOX}", "--restart=Never",
                      "--image-pull-policy=IfNotPresent",
                      "--", "wget", "-qO-", "--no-check-certificate", f"{server}/version")  # fmt: skip
    fleet_run.kubectl(spoke, "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/reach-hub",
                      "--timeout=180s")  # fmt: skip
    assert '"gitVersion"' in fleet_run.kubectl(spoke, "logs", "reach-hub").stdout


def test_down_leaves_nothing(fleet_run):
    result = fleet_run.kindfleet("down")
    assert result.returncode == 0, result.stderr
    names = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True,
                           text=True, check=True).stdout.split()  # fmt: skip
    assert not [n for n in names if n.startswith(fleet_run.name)]
    config = yaml.safe_load(fleet_run.kubeconfig.read_text()) or {}
    assert not [c for c in config.get("contexts") or [] if fleet_run.name in c["name"]]
