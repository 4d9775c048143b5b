from __future__ import annotations

import subprocess
import sys

from tests.unit.lifecycle.conftest import CALICO


def fleet_file(name: str, *, registry_image: str | None = None, port: int | None = None,
               spokes: int = 3, calico: bool = True, hub_port: int | None = None) -> str:  # fmt: skip
    lines = [
        "apiVersion: kindfleet.dev/v1alpha1",
        "kind: Fleet",
        f"name: {name}",
        'kubernetesVersion: "1.35"',
    ]
    if registry_image:
        lines += [f"registry: {{hostPort: {port}, image: {registry_image}}}"]
    mapping = (
        f", portMappings: [{{containerPort: 30080, hostPort: {hub_port}}}]" if hub_port else ""
    )
    lines += [
        "hub:",
        "  labels: {cluster-role: hub}",
        "  nodes:",
        f"    - {{role: control-plane, labels: {{plane: management}}{mapping}}}",
        "    - {role: worker, labels: {plane: management}}",
        "spokes:",
        f"  count: {spokes}",
        "  template:",
    ]
    if calico:
        lines += ["    networking: {cni: calico}"]
    lines += [
        "    nodes:",
        "      - role: control-plane",
        "      - role: worker",
        "        labels: {cluster-role: spoke, spoke-id: '{index}', gpu: 'true'}",
    ]
    return "\n".join(lines) + "\n"


def kindfleet(
    *args: str, env: dict[str, str], cwd=None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kindfleet", *args],
        env={**env, "KINDFLEET_CALICO_MANIFEST": str(CALICO)},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def kubectl(double, context: str, *args: str) -> str:
    out = subprocess.run(
        ["kubectl", "--kubeconfig", str(double.kubeconfig), "--context", context, *args],
        env=double.env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout


def docker_lines(*args: str) -> list[str]:
    out = subprocess.run(["docker", *args], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if line.strip()]
