"""Whose a KIND cluster with one of the fleet's names is: this fleet's when its `up` began
it (on record in the fleet's state) or when the mark kindfleet writes inside it names this
fleet (or no fleet: marks made before they did); otherwise a user's own or another fleet
file's, which `up` and `down` leave alone. Over a scripted runner standing for docker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kindfleet.errors import PrerequisiteError
from kindfleet.exec import Command, Result
from kindfleet.fleetspec import from_text
from kindfleet.providers.base import FLEET_LABEL, ProviderSettings
from kindfleet.providers.kind import KindProvider
from kindfleet.providers.kind import docker as dk

FLEET = """apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: own
spokes: 1
"""


class Docker:
    """`docker exec NODE cat MARK` answers `mark` (None: no mark, or not running);
    `docker ps` and `docker inspect` show the control plane `state`."""

    def __init__(self, mark: str | None, state: str = "running") -> None:
        self.mark, self.state = mark, state

    def run(self, command: Command, *, check: bool = True) -> Result:
        argv = list(command.argv)
        if "exec" in argv:
            if self.mark is None or self.state != "running":
                return Result(command, 1, "", "cat: no such file")
            return Result(command, 0, self.mark, "")
        if "ps" in argv:
            return Result(command, 0, "own-hub-control-plane\n", "")
        if "inspect" in argv:
            item = {"Name": "/own-hub-control-plane", "State": {"Status": self.state}}
            return Result(command, 0, json.dumps([item]), "")
        return Result(command, 0, "", "")


def provider(tmp_path: Path, docker: Docker) -> KindProvider:
    kind = KindProvider(ProviderSettings(env={}, state_dir=tmp_path))
    kind.runner = docker  # type: ignore[assignment]
    kind.docker.runner = docker  # type: ignore[assignment]
    return kind


@pytest.mark.parametrize(
    ("mark", "state", "why"),
    [
        ("own-hub created by kindfleet for fleet own\n", "running", ""),
        ("own-hub created by kindfleet\n", "running", ""),  # made before marks named fleets
        ("own-hub created by kindfleet for fleet other\n", "running", "for fleet other"),
        (None, "running", "not made by kindfleet"),
        (None, "exited", "kindfleet cannot tell whose it is"),
    ],
)
def test_whose_a_cluster_is(tmp_path: Path, mark, state, why):
    spec = from_text(FLEET)
    reason = provider(tmp_path, Docker(mark, state)).not_ours(spec, "own-hub")
    assert (why in reason) if why else reason == "", reason


def test_a_cluster_this_fleets_up_began_is_its_own_until_deleted(tmp_path: Path):
    """Killed half-way, `kind create` leaves no mark: the fleet's record says it is its own
    (made anew by the next `up`); `down` deletes it and its record."""
    spec = from_text(FLEET)
    kind = provider(tmp_path, Docker(None))
    record = tmp_path / "own" / "kind-clusters" / "own-hub"
    record.parent.mkdir(parents=True)
    record.write_text("creating\n")
    assert kind.not_ours(spec, "own-hub") == ""
    kind.delete(spec, "own-hub")
    assert not record.exists()
    assert "not made by kindfleet" in kind.not_ours(spec, "own-hub")


class Network:
    """docker as `tidy` sees it: a network `kind` nothing is on; records what was run."""

    def __init__(self) -> None:
        self.ran: list[list[str]] = []

    def run(self, command: Command, *, check: bool = True) -> Result:
        argv = list(command.argv)
        self.ran.append(argv)
        if argv[1:3] == ["network", "ls"]:
            return Result(command, 0, "abc123\n", "")
        return Result(command, 0, "", "")


def test_down_removes_only_a_network_kindfleet_made(tmp_path: Path):
    """A network there before the fleet (the user's own given as KIND's network, or one
    kind made for somebody else's cluster) was removed once unused, and a `kind create`
    running meanwhile failed with "network not found"."""
    spec = from_text(FLEET)
    docker = Network()
    kind = KindProvider(ProviderSettings(env={}, state_dir=tmp_path))
    kind.runner = kind.docker.runner = docker  # type: ignore[assignment]
    assert kind.tidy(spec) == [] and not [a for a in docker.ran if "rm" in a]
    record = tmp_path / ".kind-networks" / "kind"  # written when an `up` made it
    record.parent.mkdir()
    record.write_text("kind\n")
    assert kind.tidy(spec) == ["network kind"]
    assert ["docker", "network", "rm", "abc123"] in [a[:4] for a in docker.ran]
    assert not record.exists()


REGISTRY_FLEET = FLEET + "registry: {name: own-registry, hostPort: 45010}\n"


@pytest.mark.parametrize(("published", "refused"), [(45008, True), (45010, False), (None, False)])
def test_a_registry_publishing_another_port_than_the_file_says_is_refused(
    tmp_path: Path, published, refused
):
    """hostPort changed in the file: `up` said "already running; push to localhost:45010"
    while the container still published 45008, and every push to 45010 failed."""
    spec = from_text(REGISTRY_FLEET)
    kind = KindProvider(ProviderSettings(env={}, state_dir=tmp_path))
    ports = {"5000/tcp": ("127.0.0.1", published)} if published else {}
    container = dk.Container(
        name="own-registry", image="registry:3", state="running" if published else "exited",
        labels={FLEET_LABEL: "own"}, networks={}, ports=ports,
    )  # fmt: skip
    started: list[str] = []
    kind.docker.container = lambda name: container  # type: ignore[method-assign]
    kind.docker.start = started.append  # type: ignore[method-assign]
    if refused:
        with pytest.raises(PrerequisiteError, match="publishes port 45008, the fleet file says"):
            kind.ensure_registry(spec)
    else:
        assert kind.ensure_registry(spec) is False  # there already: kept
    assert started == ([] if published or refused else ["own-registry"])
