"""kind faults against the real Docker engine: node containers (the simulated node image,
labelled as kind labels its nodes) really stopped, started, paused and unpaused through
`KindProvider`'s fault verbs and the fault records; and a node that cannot change its
network refuses `partition`, having changed nothing and recorded nothing.

Waiting for nodes Ready after a stop needs a node's API server, which these containers do
not run: that one step is recorded instead (tests/integration/kindreal covers the API)."""

from __future__ import annotations

import json
import subprocess

import pytest

from kindfleet import faults
from kindfleet.faults import FaultBook, FaultRefused
from kindfleet.fleetspec import from_text
from kindfleet.providers.base import FaultSpec, ProviderSettings
from kindfleet.providers.kind import KindProvider
from kindfleet.providers.kind.kindcli import CLUSTER_LABEL

pytestmark = pytest.mark.docker


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=False, timeout=120
    )


class Provider(KindProvider):
    def __init__(self, network: str) -> None:
        super().__init__(ProviderSettings(env={"KIND_EXPERIMENTAL_DOCKER_NETWORK": network}))
        self.waited: list[str] = []

    def wait_ready(self, fleet, cluster, timeout):
        self.waited.append(cluster.name)

    def list_clusters(self, fleet):  # by the nodes' label, as `kind get clusters` reads it
        return [c.name for c in fleet.clusters if self._containers(c.name)]


def _state(container: str) -> str:
    out = _docker("inspect", "--format", "{{json .State}}", container).stdout
    state = json.loads(out)
    return "paused" if state["Paused"] else state["Status"]


@pytest.fixture
def nodes(name, node_image):
    network = f"{name}-net"
    assert (
        _docker("network", "create", "--label", f"{CLUSTER_LABEL}={name}", network).returncode == 0
    )
    made = {}
    for cluster in (f"{name}-hub", f"{name}-s1"):
        node = f"{cluster}-control-plane"
        run = _docker("run", "--detach", "--name", node, "--network", network, "--label",
                      f"{CLUSTER_LABEL}={cluster}", node_image, "sleep", "3600")  # fmt: skip
        assert run.returncode == 0, run.stderr
        made[cluster] = node
    yield network, made
    for node in made.values():
        _docker("rm", "--force", node)
    _docker("network", "rm", network)


def test_stop_pause_and_a_refused_partition_on_real_containers(nodes, name, tmp_path):
    network, made = nodes
    spec = from_text(f"""\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: {name}
spokes: [{{name: {name}-s1}}]
""", source="real")  # fmt: skip
    provider, book = Provider(network), FaultBook(tmp_path)
    spoke, hub = made[f"{name}-s1"], made[f"{name}-hub"]

    stopped = faults.inject(spec, provider, book, FaultSpec("stop", f"{name}-s1"))
    assert _state(spoke) == "exited" and _state(hub) == "running"
    paused = faults.inject(spec, provider, book, FaultSpec("pause", "hub"))
    assert _state(hub) == "paused"
    faults.clear(spec, provider, book, [stopped.id, paused.id])
    assert _state(spoke) == "running" and _state(hub) == "running"
    assert provider.waited == [f"{name}-s1"]  # started, then waited Ready

    with pytest.raises(FaultRefused) as err:
        faults.inject(spec, provider, book, FaultSpec("partition", f"{name}-s1"))
    assert f"the node {spoke} has no iptables" in err.value.message
    assert not book.live()
