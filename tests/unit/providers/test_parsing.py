"""What kindfleet reads back from docker, kind and kubectl."""

import json

import pytest

from kindfleet.providers.kind import docker as dk
from kindfleet.providers.kind import kindcli as kind
from kindfleet.providers.kubectl import parsing as kp


@pytest.mark.parametrize(
    ("text", "size"),
    [("872KiB", 872 * 1024), ("1.5GiB", int(1.5 * 2**30)), ("0B", 0), ("12.5MiB", int(12.5 * 2**20)),
     ("3MB", 3_000_000), ("--", None), ("", None)],
)  # fmt: skip
def test_parse_size(text, size):
    assert dk.parse_size(text) == size


def test_parse_stats():
    text = "hub-control-plane\t512.3MiB / 23.54GiB\nhub-worker\t-- / --\n"
    assert dk.parse_stats(text) == {"hub-control-plane": int(512.3 * 2**20)}


INSPECT = [
    {
        "Name": "/hub-control-plane",
        "State": {"Status": "running"},
        "Config": {
            "Image": "kindest/node:v1.35.8",
            "Hostname": "hub-control-plane",
            "Labels": {"io.x-k8s.kind.cluster": "hub", "io.x-k8s.kind.role": "control-plane"},
            "Env": ["KUBECONFIG=/etc/kubernetes/admin.conf"],
        },
        "NetworkSettings": {
            "Networks": {"kind": {"IPAddress": "172.18.0.3"}},
            "Ports": {"6443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "40123"}], "80/tcp": None},
        },
    }
]


def test_parse_inspect():
    (container,) = dk.parse_inspect(json.dumps(INSPECT))
    assert container.name == "hub-control-plane"
    assert container.running
    assert container.networks == {"kind": "172.18.0.3"}
    assert container.ports == {"6443/tcp": ("127.0.0.1", 40123)}
    assert container.labels["io.x-k8s.kind.role"] == "control-plane"
    assert dk.parse_inspect("[]") == [] and dk.parse_inspect("") == []


def test_kind_version():
    assert kind.parse_version("kind v0.33.0 go1.24.6 linux/amd64") == "v0.33.0"
    assert kind.parse_version("0.33.0") == "v0.33.0"
    assert kind.parse_version("nonsense") is None


NODES = {
    "items": [
        {
            "metadata": {
                "name": "hub-control-plane",
                "labels": {"node-role.kubernetes.io/control-plane": "", "plane": "management"},
            },
            "status": {
                "conditions": [{"type": "Ready", "status": "True", "message": "kubelet is ready"}],
                "nodeInfo": {"kubeletVersion": "v1.35.8"},
                "addresses": [{"type": "InternalIP", "address": "172.18.0.3"}],
            },
        },
        {
            "metadata": {"name": "hub-worker"},
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "False", "message": "cni plugin not initialized"}
                ]
            },
        },
        {"metadata": {"name": "fresh"}, "status": {}},
    ]
}


def test_parse_nodes():
    cp, worker, fresh = kp.parse_nodes(json.dumps(NODES))
    assert (cp.name, cp.ready, cp.roles, cp.kubelet_version, cp.internal_ip) == (
        "hub-control-plane", True, ["control-plane"], "v1.35.8", "172.18.0.3",
    )  # fmt: skip
    assert (worker.ready, worker.message) == (False, "cni plugin not initialized")
    assert (fresh.ready, fresh.message) == (False, "no Ready condition yet")


def test_parse_pods():
    pods = {
        "items": [
            {"metadata": {"name": "calico-node-a"}, "status": {"phase": "Running",
             "conditions": [{"type": "Ready", "status": "True"}]}},
            {"metadata": {"name": "calico-node-b"}, "status": {"phase": "Pending",
             "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]}},
        ]
    }  # fmt: skip
    state = kp.parse_pods(json.dumps(pods))
    assert (state.total, list(state.not_ready), state.ready) == (
        2, ["calico-node-b (Pending: ContainersNotReady)"], False,
    )  # fmt: skip
    assert not kp.parse_pods('{"items": []}').ready


def test_parse_versions():
    text = json.dumps(
        {"clientVersion": {"gitVersion": "v1.32.4"}, "serverVersion": {"gitVersion": "v1.35.8"}}
    )
    assert kp.parse_versions(text) == ("v1.32.4", "v1.35.8")
    assert kp.parse_versions('{"clientVersion": {"gitVersion": "v1.32.4"}}') == ("v1.32.4", None)


def _node(ports, labels=None):
    item = json.loads(json.dumps(INSPECT[0]))
    item["NetworkSettings"]["Ports"] = {"6443/tcp": ports}
    item["Config"]["Labels"].update(labels or {})
    return dk.parse_inspect(json.dumps([item]))[0]


def test_api_endpoint_is_what_kind_writes_into_the_kubeconfig():
    """kind's GetAPIServerEndpoint: the first binding's HostIp as bound, IPv6 bracketed,
    and Docker Desktop's port label first when the node carries one."""
    assert kind.api_endpoint(_node([{"HostIp": "127.0.0.1", "HostPort": "40123"}])) == (
        "https://127.0.0.1:40123"
    )
    wildcard = _node(
        [{"HostIp": "0.0.0.0", "HostPort": "6443"}, {"HostIp": "::", "HostPort": "6443"}]
    )
    assert kind.api_endpoint(wildcard) == "https://0.0.0.0:6443"
    assert kind.api_endpoint(_node([{"HostIp": "::1", "HostPort": "40124"}])) == (
        "https://[::1]:40124"
    )
    desktop = _node(
        [{"HostIp": "127.0.0.1", "HostPort": "40123"}],
        {"desktop.docker.io/ports/6443/tcp": "10.0.1.7:6443"},
    )
    assert kind.api_endpoint(desktop) == "https://10.0.1.7:6443"
    assert kind.api_endpoint(_node(None)) is None


def _deployment(*, generation=2, observed=2, replicas=1, total=1, updated=1, available=1):
    return json.dumps({"metadata": {"generation": generation}, "spec": {"replicas": replicas},
                       "status": {"observedGeneration": observed, "replicas": total,
                                  "updatedReplicas": updated, "availableReplicas": available}})  # fmt: skip


def test_a_rollout_is_done_only_when_the_new_replicaset_serves():
    """kubectl's `rollout status` rules: an old pod, Ready while it terminates, never counts."""
    from kindfleet.providers.kubectl.parsing import rollout_waiting

    assert (
        rollout_waiting(_deployment(generation=3, observed=2)) == "the new spec is not observed yet"
    )
    assert rollout_waiting(_deployment(updated=0, available=1)) == "0 of 1 replicas updated"
    assert rollout_waiting(_deployment(total=2, updated=1)) == "1 old replicas pending termination"
    assert rollout_waiting(_deployment(available=0)) == "0 of 1 updated replicas available"
    assert rollout_waiting(_deployment()) is None
    assert rollout_waiting("{}") == "0 of 1 replicas updated"
