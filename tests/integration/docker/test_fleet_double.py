"""A hub and three Calico spokes with a registry, through the kind double and the real
engine: up in parallel, status, registry wiring, internal kubeconfig, idempotent up,
and down leaving no container, network, registry or kubeconfig entry behind."""

import json
import stat

import pytest
import yaml
from tests.integration.docker.conftest import free_port
from tests.integration.docker.helpers import docker_lines, fleet_file, kindfleet, kubectl
from tests.unit.lifecycle.conftest import CALICO

from kindfleet import Fleet
from kindfleet import kubeconfig as kc

pytestmark = [pytest.mark.docker, pytest.mark.slow]

NOT_HERE = {"inotify"}  # CI runners and this machine keep the kernel's default limits


def test_a_fleet_goes_up_shows_in_status_and_leaves_no_trace(
    double, registry_image, name, tmp_path, monkeypatch
):
    port = free_port()
    path = tmp_path / "fleet.yaml"
    path.write_text(fleet_file(name, registry_image=registry_image, port=port))
    fleet = Fleet.from_path(path)
    monkeypatch.setenv("KIND_DOUBLE_DELAY", "1.5")  # each `kind create` takes a while
    monkeypatch.setenv("KIND_DOUBLE_IPV6", "0")  # four first creates race for the network

    events = []
    result = fleet.up(
        kubeconfig=double.kubeconfig,
        calico_manifest=str(CALICO),
        skip_checks=NOT_HERE,
        progress=events.append,
    )
    clusters = [c.name for c in fleet.spec.clusters]
    assert [(o.name, o.action, o.ok) for o in result.outcomes] == [
        (c, "create", True) for c in clusters
    ]
    assert result.registry_created
    # in parallel: every cluster's creation started before the first one finished
    creating = [
        (e.cluster, e.phase)
        for e in events
        if e.step == "creating" and e.phase in ("start", "done")
    ]
    assert [phase for _, phase in creating[:4]] == ["start"] * 4

    # the containers KIND makes, labelled as KIND labels them, on the kind network
    nodes = docker_lines("ps", "--filter", f"network={double.network}", "--format",
                         '{{.Names}} {{.Label "io.x-k8s.kind.cluster"}} {{.Label "io.x-k8s.kind.role"}}')  # fmt: skip
    expected = {f"{c}-{r} {c} {r}" for c in clusters for r in ("control-plane", "worker")}
    assert expected <= set(nodes)
    assert any(line.startswith(f"{name}-registry ") for line in nodes)  # the registry joined it

    # kubeconfig: one context per cluster, hub current, mode 0600
    config = kc.KubeconfigFile(double.kubeconfig).read()
    assert sorted(kc.context_names(config)) == sorted(f"kind-{c}" for c in clusters)
    assert config["current-context"] == f"kind-{name}-hub"
    assert stat.S_IMODE(double.kubeconfig.stat().st_mode) == 0o600

    # status: every cluster and node, ready, versions, endpoints, memory, labels
    state = fleet.status()
    assert state.ready and [c.name for c in state.clusters] == clusters
    hub = state.clusters[0]
    assert hub.endpoint == kc.server(config, f"kind-{name}-hub")
    assert hub.kubernetes_version == "v1.35.8"
    assert [(n.name, n.role, n.ready, n.state) for n in hub.nodes] == [
        (f"{name}-hub-control-plane", "control-plane", True, "running"),
        (f"{name}-hub-worker", "worker", True, "running"),
    ]
    assert all(n.memory_bytes and n.memory_bytes > 0 for c in state.clusters for n in c.nodes)
    assert state.clusters[2].nodes[1].labels["spoke-id"] == "2"
    assert (
        state.registry is not None
        and state.registry.running
        and double.network in state.registry.networks
    )

    # what the steps did, read back with the real kubectl
    for spoke in fleet.spec.spokes:
        ds = json.loads(
            kubectl(
                double,
                spoke.context,
                "get",
                "daemonset",
                "calico-node",
                "-n",
                "kube-system",
                "-o",
                "json",
            )
        )
        env = {
            e["name"]: e.get("value")
            for e in ds["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env["CALICO_IPV4POOL_CIDR"] == spoke.networking.pod_subnet
    for cluster in fleet.spec.clusters:
        cm = yaml.safe_load(
            kubectl(
                double,
                cluster.context,
                "get",
                "cm",
                "-n",
                "kube-public",
                "local-registry-hosting",
                "-o",
                "yaml",
            )
        )
        assert yaml.safe_load(cm["data"]["localRegistryHosting.v1"])["host"] == f"localhost:{port}"

    # --internal: the hub's API as a spoke sees it, reachable from inside the kind network
    internal = yaml.safe_load(fleet.kubeconfig(f"{name}-hub", internal=True))
    server = internal["clusters"][0]["cluster"]["server"]
    assert server == f"https://{name}-hub-control-plane:6443"
    seen = docker_lines(
        "exec",
        f"{name}-spoke1-worker",
        "wget",
        "-qO-",
        "--no-check-certificate",
        f"{server}/version",
    )
    assert json.loads("".join(seen))["gitVersion"] == "v1.35.8"

    # up again: everything is kept, nothing is created
    again = fleet.up(
        kubeconfig=double.kubeconfig, calico_manifest=str(CALICO), skip_checks=NOT_HERE
    )
    assert [o.action for o in again.outcomes] == ["keep"] * 4 and not again.registry_created

    # the CLI sees the same fleet, and takes it all down
    out = kindfleet("status", "-f", str(path), "-o", "json", env=double.env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["ready"] is True
    down = kindfleet("down", "-f", str(path), env=double.env)
    assert down.returncode == 0, down.stderr
    assert f"fleet {name} is down" in down.stderr
    labelled = docker_lines(
        "ps",
        "-a",
        "--format",
        '{{.Label "io.x-k8s.kind.cluster"}} {{.Label "dev.kindfleet.fleet"}}',
    )
    assert not [line for line in labelled if name in line]
    assert not [n for n in docker_lines("ps", "-a", "--format", "{{.Names}}") if n.startswith(name)]
    assert double.network not in docker_lines("network", "ls", "--format", "{{.Name}}")
    config = kc.KubeconfigFile(double.kubeconfig).read()
    assert kc.context_names(config) == [] and config["current-context"] == ""
