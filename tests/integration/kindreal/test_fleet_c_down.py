"""The end of the session's article fleet: a node container removed by hand (status says
so, `up` makes that cluster anew and keeps the rest), then `kindfleet down` leaving no
container, network, registry or kubeconfig entry behind."""

from __future__ import annotations

import json

import pytest
import yaml
from tests.integration.kindreal.article import CPU, EDGE, GPU, HUB, NAME, Article
from tests.integration.kindreal.fleets import containers
from tests.integration.kindreal.harness import docker

from kindfleet import kubeconfig as kc

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_a_node_removed_by_hand_is_seen_and_its_cluster_made_anew(up: Article) -> None:
    docker("rm", "--force", f"{GPU}-worker")
    status = up.env.cli("status", "-f", str(up.path), "-o", "json")
    assert status.returncode == 0, status.stderr
    gpu = json.loads(status.stdout)["clusters"][1]
    assert (gpu["name"], gpu["exists"], gpu["ready"]) == (GPU, True, False)
    assert gpu["broken"] == gpu["message"] == f"node containers missing: {GPU}-worker"
    again = up.env.cli(
        "up", "-f", str(up.path), "--kubeconfig", str(up.kubeconfig), *up.env.up_args()
    )
    assert again.returncode == 0, again.stderr
    assert f"{GPU}: exists but node containers missing: {GPU}-worker: made anew" in again.stderr
    assert "(kept 3, made anew 1)" in again.stderr
    assert f"{GPU}-worker" in containers(GPU)
    assert up.fleet().status().ready
    config = kc.KubeconfigFile(up.kubeconfig).read()
    assert sorted(kc.context_names(config)) == sorted(f"kind-{c}" for c in (HUB, GPU, CPU, EDGE))
    server = kc.server(config, f"kind-{GPU}")
    assert server == yaml.safe_load(up.env.kind("get", "kubeconfig", "--name", GPU).stdout)[
        "clusters"][0]["cluster"]["server"]  # fmt: skip


def test_down_leaves_nothing(up: Article) -> None:
    # The network goes when kindfleet made it (a plain `kind create` of the session may have
    # made it first: then it is not kindfleet's to remove, as kind never removes it either).
    made = (up.env.state / ".kind-networks" / up.env.kind.network).exists()
    result = up.env.cli("down", "-f", str(up.path), "--kubeconfig", str(up.kubeconfig))
    assert result.returncode == 0, result.stderr
    assert (
        f"fleet {NAME} is down" in result.stderr and "4 clusters deleted, registry" in result.stderr
    )
    assert containers(NAME) == []
    labelled = docker("ps", "-a", "--filter", f"label=dev.kindfleet.fleet={NAME}", "-q").stdout
    assert labelled.split() == []
    networks = docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert (up.env.kind.network not in networks) is made, (made, networks)
    config = kc.KubeconfigFile(up.kubeconfig).read()
    assert kc.context_names(config) == [] and config["current-context"] == ""
    assert up.env.kind("get", "clusters").stdout.split() == [] or not [
        c for c in up.env.kind("get", "clusters").stdout.split() if c.startswith(NAME)
    ]
