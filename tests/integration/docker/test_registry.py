"""The fleet's registry container against the real engine, with a real registry image:
created labelled, kept, restarted, refused when the name or port is someone else's,
pushed to and pulled from on the host, and reached by name from the kind network."""

import socket
import subprocess
import urllib.request

import pytest
from tests.integration.docker.conftest import free_port

from kindfleet.errors import PrerequisiteError
from kindfleet.exec import CommandError, ProcessRunner
from kindfleet.fleetspec import from_text
from kindfleet.providers.base import ProviderSettings
from kindfleet.providers.kind import KindProvider
from kindfleet.providers.kind import docker as dk
from kindfleet.render import registry as reg

pytestmark = pytest.mark.docker


def fleet(name, image, port):
    return from_text(
        f"apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: {name}\n"
        f"registry: {{hostPort: {port}, image: {image}}}\n"
        "hub: {nodes: [{role: control-plane}, {role: worker}]}\n"
    )


def v2(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=5) as response:
        return response.status


def wait_v2(port):
    import time

    deadline = time.monotonic() + 10
    while True:
        try:
            return v2(port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def provider(network="kind"):
    return KindProvider(ProviderSettings(env={"KIND_EXPERIMENTAL_DOCKER_NETWORK": network}))


def test_registry_lifecycle(registry_image, name):
    spec = fleet(name, registry_image, free_port())
    kind = provider()
    assert kind.ensure_registry(spec) is True
    assert wait_v2(spec.registry.host_port) == 200
    container = kind.docker.container(spec.registry.name)
    assert container.labels == {"dev.kindfleet.fleet": name, "dev.kindfleet.role": "registry"}
    assert container.ports["5000/tcp"] == ("127.0.0.1", spec.registry.host_port)
    assert kind.ensure_registry(spec) is False
    ProcessRunner().run(dk.cmd("docker", "stop", "-t", "0", spec.registry.name))
    assert kind.registry_status(spec).running is False
    assert kind.ensure_registry(spec) is False
    assert kind.registry_status(spec).running is True
    assert kind.delete_registry(spec) is True
    assert kind.registry_status(spec).exists is False
    assert kind.delete_registry(spec) is False


def test_a_container_of_that_name_that_is_not_ours_is_refused(node_image, name):
    spec = fleet(name, node_image, free_port())
    ProcessRunner().run(dk.run_cmd(spec.registry.name, node_image, args=["/bin/sleep", "600"]))
    with pytest.raises(PrerequisiteError) as caught:
        provider().ensure_registry(spec)
    assert (
        caught.value.message
        == f"a container named {name}-registry exists and is not fleet {name}'s registry"
    )
    assert f"docker rm -f {name}-registry" in caught.value.hint


def test_a_host_port_held_elsewhere_fails_cleanly(registry_image, name):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        spec = fleet(name, registry_image, held.getsockname()[1])
        kind = provider()
        with pytest.raises(CommandError) as caught:
            kind.ensure_registry(spec)
    assert f"could not start registry {name}-registry" in caught.value.message
    assert (
        caught.value.hint
        == "another process holds the registry's host port; change registry.hostPort"
    )
    assert kind.docker.container(spec.registry.name) is None  # no Created container left


@pytest.mark.slow
def test_push_pull_and_the_view_from_the_kind_network(registry_image, node_image, double, name):
    spec = fleet(name, registry_image, free_port())
    kind = provider(double.network)
    kind.ensure_registry(spec)
    wait_v2(spec.registry.host_port)
    pushed = f"{spec.registry.host_endpoint}/{name}/pushme:v1"
    run = ProcessRunner().run
    run(dk.cmd("docker", "tag", node_image, pushed))
    run(dk.cmd("docker", "push", pushed, timeout=120))
    run(dk.cmd("docker", "rmi", pushed))
    run(dk.cmd("docker", "pull", pushed, timeout=120))
    run(dk.cmd("docker", "rmi", pushed))
    # a cluster on the kind network, wired to the registry
    subprocess.run(
        ["kind", "create", "cluster", "--name", f"{name}-hub", "--config=-", "--kubeconfig", str(double.home / "kc")],
        input="kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes: [{role: control-plane}, {role: worker}]\n",
        text=True, check=True, capture_output=True,
    )  # fmt: skip
    kind.connect_registry(spec, spec.hub)
    assert double.network in kind.registry_status(spec).networks
    for node in (f"{name}-hub-control-plane", f"{name}-hub-worker"):
        path = f"{reg.hosts_dir(spec.registry)}/hosts.toml"
        assert kind.docker.read_file(node, path) == f'[host."http://{name}-registry:5000"]\n'
    catalog = run(
        dk.cmd(
            "docker",
            "exec",
            f"{name}-hub-worker",
            "wget",
            "-qO-",
            f"http://{spec.registry.internal_endpoint}/v2/_catalog",
        )
    )
    assert f'"{name}/pushme"' in catalog.stdout
    kind.connect_registry(spec, spec.hub)  # again: already connected is fine
