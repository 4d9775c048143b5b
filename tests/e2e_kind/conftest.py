"""The real-KIND suite: `pytest -m kind tests/e2e_kind` (or `make e2e-kind`).

It runs kindfleet the way a user does (the CLI, a fleet file, its own kubeconfig file) on
real KIND clusters, so it needs Docker, kind and kubectl, and network access for node
images, Calico and the registry image. Without them every test skips and says why.

When a test that uses a fleet fails, every cluster's logs and the platform's are exported
(`kindfleet logs export`, i.e. `Fleet.export_logs`) by an autouse fixture right after it,
while the clusters are still there (the last test of each file runs `down`, the fleet's
fixture at the end of the session): once per fleet, into `$KINDFLEET_E2E_LOGS_DIR/<fleet>`
(default `kind-logs/<fleet>` under the current directory), which the workflow uploads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

FLEET_FIXTURES = ("fleet_run", "platform_run")
FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Keep on the test whether its setup or its call failed, for the fixture below."""
    report = yield
    if report.failed:
        item.stash[FAILED] = True
    return report


@pytest.fixture(autouse=True)
def _logs_when_a_test_fails(request: pytest.FixtureRequest):
    """After a failed test that used a fleet: that fleet's logs, before anything else runs."""
    yield
    if not request.node.stash.get(FAILED, False):
        return
    for name in FLEET_FIXTURES:
        if name in request.fixturenames:
            request.getfixturevalue(name).export_logs()


BUSYBOX = "busybox:1.36"  # the test pods' image, loaded into the nodes (never pulled there)
# what the restricted Pod Security Standard of the platform's namespaces asks of a pod
RESTRICTED = {
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 65534,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "container": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
}


def pull_once(image: str) -> None:
    """`docker pull` unless the image is already on this machine (the workflow's step
    pulled it, or an earlier test did)."""
    inspect = ["docker", "image", "inspect", image]
    if subprocess.run(inspect, capture_output=True, check=False).returncode != 0:
        subprocess.run(["docker", "pull", image], check=True, capture_output=True, timeout=600)


def logs_dir(name: str) -> Path:
    return Path(os.environ.get("KINDFLEET_E2E_LOGS_DIR", "kind-logs")).resolve() / name


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

    exported: bool = False
    loaded: set[str] = field(default_factory=set)

    def load_image(self, image: str) -> None:
        """`image` pulled once on this machine (with its `docker login`, if any) and `kind
        load`ed into every cluster of this fleet, so that no node pulls it: Docker Hub
        rate-limits anonymous pulls per address. Test pods then run it IfNotPresent."""
        if image in self.loaded:
            return
        pull_once(image)
        listed = subprocess.run(["kind", "get", "clusters"], capture_output=True, text=True,
                                check=True, env=self.env).stdout.split()  # fmt: skip
        for cluster in (c for c in listed if c.startswith(f"{self.name}-")):
            subprocess.run(["kind", "load", "docker-image", image, "--name", cluster], check=True,
                           capture_output=True, timeout=600, env=self.env)  # fmt: skip
        self.loaded.add(image)

    def export_logs(self) -> None:
        """Every cluster's and the platform's logs into logs_dir(name), once per fleet."""
        if self.exported:
            return
        self.exported = True
        out = logs_dir(self.name)
        exported = self.kindfleet("logs", "export", "--out", str(out), timeout=900)
        where = out if exported.returncode == 0 else exported.stderr.strip()[-2000:]
        sys.stderr.write(f"\na test failed; logs of fleet {self.name}: {where}\n")

    def teardown(self) -> None:
        """Down, leaving nothing (a failed test's logs were exported right after it)."""
        self.kindfleet("down")


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
    run.teardown()


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
    run.teardown()  # whatever the tests did, leave nothing behind
