"""Fixtures for tests that drive the real Docker engine.

Everything a test creates carries a name starting with this run's prefix (clusters,
fleets, networks, image tags) and is removed by label or name after the test, even when
it fails. The kind double is put on PATH; HOME and KUBECONFIG point into tmp_path so no
test can touch the real user's kubeconfig.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.doubles.kind_double import images
from tests.doubles.kind_double.shim import write_shim

RUN = uuid.uuid4().hex[:6]
PREFIX = f"kf{RUN}"
_counter = itertools.count(1)


def docker_unreachable() -> str | None:
    if shutil.which("docker") is None:
        return "docker CLI not found on PATH"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        lines = probe.stderr.strip().splitlines() or ["`docker info` failed"]
        return f"Docker engine not reachable: {lines[-1]}"
    return None


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def sweep(prefix: str) -> None:
    """Remove every container, network and image tag whose name or label starts with prefix."""
    for label in ("io.x-k8s.kind.cluster", "dev.kindfleet.fleet"):
        out = _docker("ps", "-a", "--filter", f"label={label}", "--format",
                      f'{{{{.Names}}}} {{{{.Label "{label}"}}}}').stdout  # fmt: skip
        doomed = [
            line.split()[0] for line in out.splitlines() if line.split()[-1].startswith(prefix)
        ]
        if doomed:
            _docker("rm", "-f", "-v", *doomed)
    by_name = [
        n
        for n in _docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
        if n.startswith(prefix)
    ]
    if by_name:
        _docker("rm", "-f", "-v", *by_name)
    for line in _docker("network", "ls", "--format", "{{.ID}} {{.Name}}").stdout.splitlines():
        network_id, _, net = line.partition(" ")
        if net.startswith(prefix):
            _docker("network", "rm", network_id)  # by ID: same-named networks are ambiguous
    tags = _docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    for tag in tags:
        if f"/{prefix}" in tag or tag.endswith(f":{prefix}") or f"{prefix}-" in tag:
            _docker("rmi", "-f", tag)


@pytest.fixture(scope="session")
def engine():
    reason = docker_unreachable()
    if reason:
        pytest.skip(reason)
    yield
    sweep(PREFIX)


@pytest.fixture(scope="session")
def node_image(engine):
    if images.busybox() is None:
        pytest.skip("busybox-static not installed (apt-get install busybox-static)")
    tag = f"kindfleet-test/node:{PREFIX}"
    images.build_node_image(tag)
    yield tag
    images.remove_image(tag)


@pytest.fixture(scope="session")
def registry_image(engine):
    if images.registry_binary() is None:
        pytest.skip("docker-registry not installed (apt-get install docker-registry)")
    tag = f"kindfleet-test/registry:{PREFIX}"
    images.build_registry_image(tag)
    yield tag
    images.remove_image(tag)


@pytest.fixture
def name(engine):
    """A fresh name for this test's fleet (and the prefix of everything it makes)."""
    value = f"{PREFIX}n{next(_counter)}"
    yield value
    sweep(value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Double:
    env: dict[str, str]  # the environment a `kindfleet` subprocess needs
    network: str
    kubeconfig: Path
    home: Path


@pytest.fixture
def double(tmp_path, monkeypatch, node_image, name):
    """The kind double on PATH, its own network, and a private HOME and KUBECONFIG."""
    if shutil.which("openssl") is None or shutil.which("kubectl") is None:
        pytest.skip("the kind double needs openssl and kubectl on PATH")
    bin_dir = tmp_path / "bin"
    write_shim(bin_dir)
    home = tmp_path / "home"
    home.mkdir()
    kubeconfig = tmp_path / "kube" / "config"
    values = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(home),
        "KUBECONFIG": str(kubeconfig),
        "KIND_EXPERIMENTAL_DOCKER_NETWORK": f"{name}-net",
        "KIND_DOUBLE_NODE_IMAGE": node_image,
        "KIND_DOUBLE_READY_DELAY": "0.3",
        "CI": "1",  # plain progress lines from the CLI
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    for key in ("KIND_DOUBLE_FAIL", "KIND_DOUBLE_DELAY", "KINDFLEET_FILE", "DOCKER_HOST_UNSET"):
        monkeypatch.delenv(key, raising=False)
    return Double(dict(os.environ), f"{name}-net", kubeconfig, home)
