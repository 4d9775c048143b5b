"""The Docker adapter against the real engine: containers by label, exec, networks, stats."""

import threading

import pytest

from kindfleet.exec import CommandError, ProcessRunner
from kindfleet.providers.kind import docker as dk

pytestmark = pytest.mark.docker


@pytest.fixture
def docker():
    return dk.Docker(ProcessRunner())


def start(docker, image, name, **labels):
    command = dk.run_cmd(
        name, image, labels={"dev.kindfleet.fleet": name, **labels}, args=["/bin/sleep", "600"]
    )
    docker.run(command)


def test_containers_by_label_exec_and_memory(docker, node_image, name):
    start(docker, node_image, f"{name}-a", role="x")
    start(docker, node_image, f"{name}-b", role="y")
    assert sorted(docker.names(labels={"dev.kindfleet.fleet": None, "role": "y"})) == [f"{name}-b"]
    (a,) = docker.inspect(f"{name}-a", f"{name}-absent")
    assert (a.name, a.state, a.labels["role"], a.image) == (f"{name}-a", "running", "x", node_image)
    docker.write_file(a.name, "/etc/containerd/certs.d/localhost:5001/hosts.toml", "[host]\n")
    assert (
        docker.read_file(a.name, "/etc/containerd/certs.d/localhost:5001/hosts.toml") == "[host]\n"
    )
    memory = docker.memory(a.name, f"{name}-b")
    assert set(memory) == {a.name, f"{name}-b"} and all(v > 0 for v in memory.values())
    docker.remove(a.name, f"{name}-b", f"{name}-absent")
    assert docker.inspect(f"{name}-a") == []
    assert docker.names(labels={"role": "x"}) == []


def test_networks_are_only_removed_when_nothing_is_on_them(docker, node_image, name):
    network = f"{name}-net"
    assert docker.remove_network_if_unused(network) is False  # not there
    ProcessRunner().run(dk.cmd("docker", "network", "create", network))
    start(docker, node_image, f"{name}-c")
    assert docker.connect(network, f"{name}-c") is True
    assert docker.connect(network, f"{name}-c") is False  # already on it: fine
    assert docker.container(f"{name}-c").networks.keys() >= {network}
    ProcessRunner().run(dk.cmd("docker", "stop", "-t", "0", f"{name}-c"))
    assert docker.remove_network_if_unused(network) is False  # a stopped container still uses it
    assert docker.network(network) is not None
    docker.remove(f"{name}-c")
    assert docker.remove_network_if_unused(network) is True
    assert docker.network(network) is None


def test_same_named_networks_are_all_removed(docker, name):
    """What parallel first `kind create`s can leave behind (kind#1596)."""
    network = f"{name}-dup"
    run = ProcessRunner().run
    creates = [
        threading.Thread(
            target=run,
            args=(dk.cmd("docker", "network", "create", network),),
            kwargs={"check": False},
        )
        for _ in range(6)
    ]  # concurrent creates slip past the engine's duplicate check
    for thread in creates:
        thread.start()
    for thread in creates:
        thread.join()
    ids = run(dk.network_ids_cmd(network)).stdout.split()
    if len(ids) < 2:
        pytest.skip("the engine made no duplicate network this time")
    assert docker.remove_network_if_unused(network) is True
    assert run(dk.network_ids_cmd(network)).stdout.split() == []


def test_a_failing_docker_command_shows_itself_and_the_daemons_words(docker, name):
    with pytest.raises(CommandError) as caught:
        docker.run(dk.run_cmd(f"{name}-x", "kindfleet-test/absent:nope"))
    assert (
        f"`docker run --detach --name {name}-x kindfleet-test/absent:nope` exited 125"
        in caught.value.message
    )
    assert "Unable to find image" in caught.value.message
