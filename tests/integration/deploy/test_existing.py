"""Deploying to clusters kindfleet does not run (provider existing), against two real
Kubernetes APIs answering the real kubectl (the double's API server as local processes):
the same manifests through the user's contexts, no image loading, no simulated GPUs, the
hub where --hub-url says: a real hub process, which mints each spoke's join token."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest
import yaml
from tests.doubles import hubjoin
from tests.doubles.kind_double import local_api

from kindfleet import Fleet

pytestmark = pytest.mark.skipif(bool(local_api.available()), reason=str(local_api.available()))

FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: prod
provider: existing
kubernetesVersion: "1.35"
hub: {context: eks-hub}
spokes:
  - name: gke-gpu
    context: gke-gpu
    nodes:
      - role: control-plane
      - {role: worker, labels: {gpu: "true"}, gpus: 2}
"""


@pytest.fixture(scope="module")
def apis():
    def cluster(name):
        return {"name": name, "version": "v1.35.2", "nodes": [
            {"name": f"{name}-1", "role": "control-plane", "labels": {}},
            {"name": f"{name}-2", "role": "worker", "labels": {}}]}  # fmt: skip

    with local_api.serve(cluster("eks")) as hub, local_api.serve(cluster("gke")) as spoke:
        yield hub, spoke


@pytest.fixture
def kubeconfig(apis, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # kubectl's discovery cache goes here
    monkeypatch.setenv("KINDFLEET_STATE_DIR", str(tmp_path / "state"))
    hub, spoke = apis
    config = hub.kubeconfig("eks-hub")
    other = spoke.kubeconfig("gke-gpu")
    for section in ("clusters", "users", "contexts"):
        config[section] += other[section]
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    return path


def get(kubeconfig, context, *args):
    out = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "--context", context, "get", *args,
                          "-o", "json"], capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout)


def test_the_same_deploy_works_through_existing_contexts(kubeconfig, tmp_path):
    fleet = Fleet.from_text(FLEET)
    events = []
    with hubjoin.fleet_hub(tmp_path / "hub", tmp_path / "state", "prod") as hub:
        url = f"http://localhost:{hub.port}"  # a DNS name, as a load balancer's would be
        result = fleet.deploy(
            image="registry.example.com/kindfleet/platform:0.1.0",
            hub_url=url,
            kubeconfig=kubeconfig,
            wait=False,
            progress=events.append,
        )
        secret = get(
            kubeconfig, "gke-gpu", "secret", "orchestrator-bootstrap", "-n", "platform-control"
        )
        token = base64.b64decode(secret["data"]["token"]).decode()
        assert token.startswith("kfjoin.")
        assert hubjoin.register(hub.url, "gke-gpu", token) == 200  # the spoke joins with it
        assert hubjoin.register(hub.url, "gke-gpu", token) == 401  # once
    assert (result.image, result.image_pull_policy) == (
        "registry.example.com/kindfleet/platform:0.1.0",
        "IfNotPresent",
    )
    assert result.hub_url == result.access_url == url
    steps = [e.step for e in events if not e.cluster and e.phase == "done"]
    assert "simulated GPUs" not in steps and "loading the image into every cluster" not in steps
    assert any("DNS name" in n for n in result.notes)

    hub_namespaces = {
        i["metadata"]["name"] for i in get(kubeconfig, "eks-hub", "namespaces")["items"]
    }
    spoke_namespaces = {
        i["metadata"]["name"] for i in get(kubeconfig, "gke-gpu", "namespaces")["items"]
    }
    assert "platform-management" in hub_namespaces and "platform-control" not in hub_namespaces
    assert {"platform-control", "platform-workloads"} <= spoke_namespaces
    assert "platform-management" not in spoke_namespaces
    orchestrator = get(
        kubeconfig, "gke-gpu", "deployment", "orchestrator", "-n", "platform-control"
    )
    args = orchestrator["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--hub") + 1] == url
    hub_secret = get(kubeconfig, "eks-hub", "secret", "hub-tokens", "-n", "platform-management")
    assert set(hub_secret["data"]) == {"client"}  # no fleet-wide spoke token
    policy = get(
        kubeconfig, "gke-gpu", "networkpolicy", "orchestrator-egress", "-n", "platform-control"
    )
    hub_rule = next(
        r for r in policy["spec"]["egress"] if r["ports"] == [{"protocol": "TCP", "port": hub.port}]
    )
    assert [p["ipBlock"]["cidr"] for p in hub_rule["to"]] == ["0.0.0.0/0", "::/0"]
    # clusters kindfleet does not own get no simulated capacity
    node = get(kubeconfig, "gke-gpu", "node", "gke-2")
    assert "nvidia.com/gpu" not in node["status"]["capacity"]
    access = json.loads((tmp_path / "state" / "prod" / "access.json").read_text())
    assert access["hub"] == url
    assert access["hub_host"] is None  # an existing hub's address is not ours to watch
