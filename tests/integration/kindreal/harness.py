"""Running the REAL kind CLI against the simulated node image: finding kind, the runner
with the wrapper on PATH, polling, and the sweep of what a run made.

Everything a run creates carries this run's prefix (clusters, their network, image tags)
and is removed at the end even when a test fails. kind runs with the test-only docker
wrapper first on PATH (it drops `--privileged`, which this engine refuses), its own
docker network (KIND_EXPERIMENTAL_DOCKER_NETWORK, so the shared `kind` network of other
users of this machine is left alone), and a private HOME and KUBECONFIG.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
from tests.doubles.kindnode import base

ROOT = Path(__file__).resolve().parents[3]
SHARED_KIND = (ROOT.parent / "shared/tools/kind/kind", Path("/work/shared/tools/kind/kind"))
PREFIX = f"kr{uuid.uuid4().hex[:6]}"
CLUSTER_LABEL = "io.x-k8s.kind.cluster"
T = TypeVar("T")


def find_kind() -> Path | None:
    """kind on PATH first, then the shared build beside this checkout."""
    on_path = shutil.which("kind")
    if on_path:
        return Path(on_path)
    return next((p for p in SHARED_KIND if p.is_file() and os.access(p, os.X_OK)), None)


def docker(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=check, timeout=timeout
    )


def poll(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.3) -> T:
    """check() until it returns a value (not None), failing after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def unavailable() -> str | None:
    if shutil.which("docker") is None:
        return "docker CLI not found on PATH"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return "Docker engine not reachable"
    if find_kind() is None:
        return "the kind CLI is neither on PATH nor in shared/tools/kind/kind"
    if shutil.which("kubectl") is None:
        return "kubectl not found on PATH (the node image carries the host's)"
    return base.unavailable()


@dataclass
class Kind:
    """The real kind, run with the wrapper on PATH and this run's private settings."""

    binary: Path
    env: dict[str, str]
    network: str
    docker_log: Path
    node_image: str
    kubeconfig: Path
    clusters: list[str] = field(default_factory=list)

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(self.binary), *args], capture_output=True, text=True,
                              env=self.env, timeout=timeout, check=False)  # fmt: skip
        if check and proc.returncode != 0:
            pytest.fail(f"kind {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def kubectl(
        self, *args: str, kubeconfig: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["kubectl", f"--kubeconfig={kubeconfig or self.kubeconfig}", *args],
                              capture_output=True, text=True, env=self.env, timeout=60, check=False)  # fmt: skip

    def create(self, name: str, config: str, tmp: Path) -> None:
        """`kind create cluster` of config with the node image; removed at session end."""
        path = tmp / f"{name}.yaml"
        path.write_text(config)
        self.clusters.append(name)
        self("create", "cluster", "--name", name, "--image", self.node_image, "--config", str(path))


def _leftovers(prefix: str) -> list[str]:
    out = docker("ps", "-a", "--filter", f"label={CLUSTER_LABEL}", "--format",
                 f'{{{{.Names}}}} {{{{.Label "{CLUSTER_LABEL}"}}}}', check=False).stdout  # fmt: skip
    return [line.split()[0] for line in out.splitlines() if line.split()[-1].startswith(prefix)]


def sweep(prefix: str, network: str) -> None:
    """Remove this run's containers, network and image tags. Polled for a while: after a
    failed create, `docker run`s that kind started can still be creating containers."""
    deadline = time.monotonic() + 30
    while True:
        doomed = _leftovers(prefix)
        if doomed:
            docker("rm", "-f", "-v", *doomed, check=False)
        gone = docker("network", "rm", network, check=False)
        if not doomed and (gone.returncode == 0 or "not found" in gone.stderr):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(1)
    for tag in docker("images", "--format", "{{.Repository}}:{{.Tag}}", check=False).stdout.split():
        if f"/{prefix}" in tag:
            docker("rmi", "-f", tag, check=False)
