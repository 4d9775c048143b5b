"""The real-KIND suite: `pytest -m kind tests/e2e_kind` (or `make e2e-kind`).

It runs kindfleet the way a user does (the CLI, a fleet file, its own kubeconfig file) on
real KIND clusters, so it needs Docker, kind and kubectl, and network access for node
images, Calico and the registry image. Without them every test skips and says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest


def missing() -> str | None:
    if shutil.which("kind") is None:
        return "kind not found on PATH"
    if shutil.which("docker") is None:
        return "docker not found on PATH"
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        return "Docker engine not reachable"
    if shutil.which("kubectl") is None:
        return "kubectl not found on PATH"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = missing()
    for item in items:
        if "e2e_kind" in str(item.fspath):
            item.add_marker(pytest.mark.kind)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@dataclass
class Run:
    """One fleet on real KIND, driven through the CLI."""

    name: str
    file: Path
    kubeconfig: Path
    env: dict[str, str]

    def kindfleet(self, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kindfleet", *args, "-f", str(self.file)],
            env=self.env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    def kubectl(
        self, context: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", "--kubeconfig", str(self.kubeconfig), "--context", context, *args],
            env=self.env, capture_output=True, text=True, timeout=600, check=check,
        )  # fmt: skip


FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: {name}
registry:
  hostPort: {port}
hub:
  labels: {{cluster-role: hub}}
  nodes:
    - role: control-plane
      labels: {{plane: management}}
    - role: worker
      labels: {{plane: management}}
spokes:
  count: 1
  template:
    networking: {{cni: calico}}
    nodes:
      - role: control-plane
      - role: worker
        labels: {{workload-type: compute-intensive, gpu: "true"}}
        gpus: 2
"""


PLATFORM_FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: {name}
registry:
  hostPort: {port}
hub:
  labels: {{cluster-role: hub}}
  nodes:
    - role: control-plane
      labels: {{plane: management}}
      portMappings: [{{containerPort: 30080, hostPort: {hub_port}}}]
    - role: worker
      labels: {{plane: management}}
spokes:
  - name: {name}-cpu
    labels: {{cluster-role: spoke, workload-type: general}}
    networking: {{cni: calico}}
  - name: {name}-gpu
    labels: {{cluster-role: spoke, workload-type: compute-intensive, gpu: "true"}}
    networking: {{cni: calico}}
    nodes:
      - role: control-plane
      - role: worker
        labels: {{gpu: "true"}}
        gpus: 2
"""


@pytest.fixture(scope="session")
def platform_run(tmp_path_factory) -> Run:
    """A hub and two Calico spokes (one with a simulated-GPU worker) for the platform."""
    if missing():
        pytest.skip(missing())
    base = tmp_path_factory.mktemp("platform")
    name = f"e2p{uuid.uuid4().hex[:5]}"
    port = int(os.environ.get("KINDFLEET_E2E_PLATFORM_REGISTRY_PORT", "5052"))
    hub_port = int(os.environ.get("KINDFLEET_E2E_HUB_PORT", "30081"))
    file = base / "fleet.yaml"
    file.write_text(PLATFORM_FLEET.format(name=name, port=port, hub_port=hub_port))
    kubeconfig = base / "kubeconfig"
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "KINDFLEET_STATE_DIR": str(base / "state"),
        "CI": os.environ.get("CI", "1"),
    }
    run = Run(name, file, kubeconfig, env)
    yield run
    run.kindfleet("down")


@pytest.fixture(scope="session")
def fleet_run(tmp_path_factory) -> Run:
    if missing():
        pytest.skip(missing())
    base = tmp_path_factory.mktemp("e2e")
    name = f"e2e{uuid.uuid4().hex[:5]}"
    port = int(os.environ.get("KINDFLEET_E2E_REGISTRY_PORT", "5051"))
    file = base / "fleet.yaml"
    file.write_text(FLEET.format(name=name, port=port))
    kubeconfig = base / "kubeconfig"
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "CI": os.environ.get("CI", "1")}
    run = Run(name, file, kubeconfig, env)
    yield run
    run.kindfleet("down")  # whatever the tests did, leave nothing behind
