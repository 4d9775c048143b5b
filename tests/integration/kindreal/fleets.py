"""kindfleet driving the real kind: its environment, fleet files, and a look inside nodes.

kindfleet runs as a user runs it (the Python API with its own process runner, or the CLI
as a subprocess), with the session's kind environment: the wrapper and the real kind
first on PATH, the session's own docker network, HOME and KUBECONFIG. Fleet files name
the simulated node image (`nodeImage`) and a registry image made from Debian's
docker-registry; Calico is the whole calico.yaml of the pinned release with its images
renamed to ones made here, except kube-controllers, left unpullable on purpose (the
preload then leaves it to the nodes, as it must when this machine cannot pull).
"""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.doubles import localimages
from tests.integration.kindreal.harness import PREFIX, Kind, docker
from tests.unit.lifecycle.conftest import WHOLE_CALICO

from kindfleet import Fleet
from kindfleet.exec import ProcessRunner

# Checks that cannot pass on this machine, whatever kindfleet does: its engine runs on
# cgroup v1 (real 1.35 nodes would refuse it; the simulated ones do not care) and keeps the
# kernel's default inotify limits.
NOT_HERE = frozenset({"cgroup", "inotify"})
UNPULLABLE = "quay.io/calico/kube-controllers:v3.32.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class KindfleetEnv:
    kind: Kind
    base: Path
    registry_image: str
    calico: Path  # the manifest kindfleet applies (--calico-manifest)
    calico_images: dict[str, str]  # Calico's image -> the image made here in its place
    state: Path = field(init=False)

    def __post_init__(self) -> None:
        self.state = self.base / "state"

    @property
    def env(self) -> dict[str, str]:
        return {**self.kind.env, "KINDFLEET_STATE_DIR": str(self.state), "CI": "1"}

    def write(self, name: str, text: str) -> Path:
        path = self.base / f"{name}.yaml"
        path.write_text(text)
        return path

    def fleet(self, path: Path) -> Fleet:
        return Fleet.from_path(
            path, runner=ProcessRunner(env=self.env), env=self.env, state_dir=self.state
        )

    def cli(
        self, *args: str, timeout: float = 600, extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kindfleet", *args],
                              env={**self.env, **(extra or {})}, capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip

    def up_args(self) -> list[str]:
        skips = [a for check in sorted(NOT_HERE) for a in ("--skip-check", check)]
        return ["--calico-manifest", str(self.calico), *skips]


def make_env(kind: Kind, base: Path) -> KindfleetEnv:
    if localimages.registry_binary() is None:
        raise RuntimeError("docker-registry not installed (apt-get install docker-registry)")
    registry = f"kindfleet-test/{PREFIX}-registry:3"
    localimages.build_registry_image(registry)
    manifest = gzip.decompress(WHOLE_CALICO.read_bytes()).decode()
    made: dict[str, str] = {}
    for calico_image in ("quay.io/calico/cni:v3.32.1", "quay.io/calico/node:v3.32.1"):
        local = f"kindfleet-test/{PREFIX}-{calico_image.split('/')[-1]}"
        localimages.one_file_image(local, f"stands in for {calico_image}\n")
        manifest = manifest.replace(f"image: {calico_image}", f"image: {local}")
        made[calico_image] = local
    calico = base / "calico.yaml"
    calico.write_text(manifest)
    return KindfleetEnv(kind, base, registry, calico, made)


def node_exec(node: str, *argv: str) -> str:
    return docker("exec", node, *argv).stdout


def containers(prefix: str) -> list[str]:
    names = docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
    return sorted(n for n in names if n.startswith(prefix))


def inspect(name: str) -> dict:
    return json.loads(docker("inspect", name).stdout)[0]


def ip_on(container: str, network: str) -> str:
    return str(inspect(container)["NetworkSettings"]["Networks"][network]["IPAddress"])
