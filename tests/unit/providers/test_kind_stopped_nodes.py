"""A cluster whose node containers are stopped (an engine restart, a reboot, Docker Desktop
quit: kind's restart policy is on-failure, so they stay Exited) is repaired by `up`: its
nodes are started. Found from outside: `up` ran `docker exec` into them and failed with
the engine's "is not running", then told the user to destroy the cluster."""

from __future__ import annotations

from kindfleet.fleetspec import from_text
from kindfleet.lifecycle.steps import PIPELINES, START
from kindfleet.providers.base import ProviderSettings
from kindfleet.providers.kind import KindProvider
from kindfleet.providers.kind.docker import Container
from kindfleet.statedir import write_private

FLEET = from_text(
    "apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: t\n"
    "hub:\n  nodes:\n    - role: control-plane\n"
)
HUB = FLEET.hub
NODE = f"{HUB.name}-control-plane"


class Docker:
    def __init__(self) -> None:
        self.started: list[str] = []

    def start(self, name: str) -> None:
        self.started.append(name)


def provider(tmp_path, *, running: bool) -> KindProvider:
    kind = KindProvider(ProviderSettings(env={}, state_dir=tmp_path))
    node = Container(NODE, "kindest/node", "running" if running else "exited",
                     {"io.x-k8s.kind.role": "control-plane"}, {}, {})  # fmt: skip
    kind.docker = Docker()  # type: ignore[assignment]
    kind._containers = lambda cluster: [node]  # type: ignore[method-assign]
    kind._nodes = lambda cluster: ([], [node], "")  # type: ignore[method-assign]
    kind.not_ours = lambda fleet, name: ""  # type: ignore[method-assign]
    kind._mark = lambda cluster: None  # type: ignore[method-assign]  # a stopped node says nothing
    return kind


def test_a_created_cluster_with_stopped_nodes_is_repaired_and_its_nodes_started(tmp_path):
    kind = provider(tmp_path, running=False)
    write_private(kind._record(FLEET, HUB.name), "created\n")  # kind finished creating it
    status = kind.status(FLEET, HUB)
    assert status.exists and not status.ready and status.broken == ""
    assert status.message.startswith(f"stopped: {NODE}")
    assert kind.start_nodes(FLEET, HUB) == [NODE]
    assert kind.docker.started == [NODE]  # type: ignore[attr-defined]
    assert PIPELINES["repair"][0] is START  # before anything runs `docker exec` in them


def test_a_half_made_cluster_with_stopped_nodes_is_made_anew(tmp_path):
    status = provider(tmp_path, running=False).status(FLEET, HUB)
    assert "kind create did not finish" in status.broken
