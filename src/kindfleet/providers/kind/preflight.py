"""KIND's preflight: everything that would make `up` fail half-way, checked first.

Multi-cluster KIND has well-known traps: a Docker engine that is not running, a kind too
old for the node images, too little memory for the node count, inotify limits that make
pods fail with "too many open files" once several clusters run, a host port someone else
holds. Each is checked here and reported together, each with the exact fix.

The decisions are pure functions of what was measured (tested one by one); `SystemProbes`
does the measuring (processes through the runner, /proc, a socket bind).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kindfleet.exec import Runner
from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.kind.images import KIND_VERSION
from kindfleet.providers.kind import docker as dk
from kindfleet.providers.kind import kindcli as kind_provider
from kindfleet.providers.kubectl.commands import client_version_cmd
from kindfleet.providers.kubectl.parsing import parse_versions
from kindfleet.providers.preflight import (
    Finding,
    PreflightOptions,
    Report,
    kubectl_finding,
    last_line,
    probe,
)

CHECKS = ("docker", "cgroup", "kind", "kubectl", "memory", "inotify", "ports", "network")
MIN_KIND = (0, 32, 0)  # node images from kind v0.32 on need kind >= v0.32 (containerd 2)
CONTROL_PLANE_BYTES = 768 * 2**20
WORKER_BYTES = 384 * 2**20
REGISTRY_BYTES = 64 * 2**20
# KIND's known-issues page recommends these; fleets beyond ~16 nodes get more per node.
INOTIFY_INSTANCES = 512
INOTIFY_WATCHES = 524288
INOTIFY_INSTANCES_PER_NODE = 32
INOTIFY_WATCHES_PER_NODE = 32768
INSTALL_DOCKER = "install Docker Engine (https://docs.docker.com/engine/install/) or Docker Desktop"


# --- decisions (pure) ----------------------------------------------------------------


def docker_finding(info: Mapping[str, Any] | None, error: str | None) -> Finding:
    """From `docker info`: the engine answers, or why not and what to do."""
    if info is not None:
        return Finding("docker", "ok", f"Docker engine {info.get('ServerVersion', 'unknown')}")
    text = error or ""
    if "not found on PATH" in text:
        return Finding("docker", "error", "docker not found on PATH", INSTALL_DOCKER)
    if "permission denied" in text.lower():
        return Finding(
            "docker",
            "error",
            "no permission to talk to the Docker engine",
            "`sudo usermod -aG docker $USER`, then log out and in again (or `newgrp docker`)",
        )
    return Finding(
        "docker",
        "error",
        f"Docker engine not reachable: {last_line(text)}",
        "start it (`sudo systemctl start docker`, or open Docker Desktop); "
        "for a remote engine set DOCKER_HOST",
    )


CGROUP_V2_FROM = (1, 35)  # kubelet 1.35 refuses cgroup v1 unless failCgroupV1 is false


def _minor(version: str) -> tuple[int, int] | None:
    parts = version.lstrip("v").split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def cgroup_finding(info: Mapping[str, Any], versions: Sequence[str] = ()) -> Finding | None:
    """cgroup v1 under node images whose kubelet refuses it (Kubernetes 1.35 on) is an
    error: their clusters would never come up. Under older ones, or images whose version
    is not known, it is a warning: kind warns, and cgroup v1 is on its way out."""
    if str(info.get("CgroupVersion", "2")) != "1":
        return None
    fix = (
        "boot the host with cgroup v2 (kernel argument systemd.unified_cgroup_hierarchy=1; "
        "Docker Desktop and current Linux distributions use it already)"
    )
    refused = sorted(
        {v for v in versions if (_minor(v) or (0, 0)) >= CGROUP_V2_FROM},
        key=lambda v: _minor(v) or (0, 0),
    )
    if refused:
        return Finding(
            "cgroup",
            "error",
            f"the Docker engine runs on cgroup v1, and the kubelet of Kubernetes "
            f"{', '.join(refused)} refuses to start on it",
            fix + "; or choose kubernetesVersion 1.34 or older",
        )
    return Finding(
        "cgroup",
        "warning",
        "the Docker engine runs on cgroup v1: kind warns about it, and node images for "
        "Kubernetes 1.35 and later need cgroup v2",
        fix,
    )


def _semver(version: str) -> tuple[int, int, int] | None:
    parts = version.lstrip("v").split("-")[0].split(".")
    try:
        return int(parts[0]), int(parts[1]), int(parts[2])
    except (IndexError, ValueError):
        return None


def kind_finding(version: str | None, error: str | None) -> Finding:
    install = kind_provider.INSTALL_KIND
    if version is None:
        if error and "not found on PATH" not in error:
            return Finding("kind", "error", f"`kind version` failed: {last_line(error)}", install)
        return Finding("kind", "error", "kind not found on PATH", install)
    found = _semver(version)
    if found is not None and found < MIN_KIND:
        return Finding(
            "kind",
            "error",
            f"kind {version} is too old for the node images of kind {KIND_VERSION} "
            "(they need kind v0.32.0 or newer)",
            install,
        )
    if version != KIND_VERSION:
        return Finding(
            "kind",
            "warning",
            f"kind {version} found; kindfleet's node images are those kind {KIND_VERSION} "
            "published",
            install,
        )
    return Finding("kind", "ok", f"kind {version}")


def memory_needed(fleet: FleetSpec) -> int:
    """A working estimate: what a KIND node of each role uses once its cluster is idle."""
    total = sum(
        CONTROL_PLANE_BYTES if n.role == "control-plane" else WORKER_BYTES
        for c in fleet.clusters
        for n in c.nodes
    )
    return total + (REGISTRY_BYTES if fleet.registry else 0)


def _gib(value: float) -> str:
    return f"{value / 2**30:.1f} GiB"


def memory_finding(total: int | None, needed: int, nodes: int) -> Finding:
    if not total:
        return Finding("memory", "warning", "the Docker engine did not say how much memory it has")
    if total < needed:
        return Finding(
            "memory",
            "error",
            f"the fleet's {nodes} nodes need about {_gib(needed)}; the Docker engine has "
            f"{_gib(total)}",
            "give Docker more memory (Docker Desktop: Settings > Resources) or run fewer "
            "spokes or workers",
        )
    if total < needed * 1.25:
        message = f"about {_gib(needed)} of {_gib(total)} needed: memory will be tight"
        return Finding("memory", "warning", message)
    return Finding("memory", "ok", f"about {_gib(needed)} of {_gib(total)} needed")


def inotify_needed(nodes: int) -> tuple[int, int]:
    return (
        max(INOTIFY_INSTANCES, INOTIFY_INSTANCES_PER_NODE * nodes),
        max(INOTIFY_WATCHES, INOTIFY_WATCHES_PER_NODE * nodes),
    )


def inotify_finding(instances: int | None, watches: int | None, nodes: int) -> Finding:
    if instances is None or watches is None:
        return Finding("inotify", "ok", "inotify limits not readable here (not checked)")
    need_instances, need_watches = inotify_needed(nodes)
    low = []
    if instances < need_instances:
        low.append(f"fs.inotify.max_user_instances is {instances} (needs {need_instances})")
    if watches < need_watches:
        low.append(f"fs.inotify.max_user_watches is {watches} (needs {need_watches})")
    if not low:
        return Finding("inotify", "ok", f"inotify limits {instances} instances, {watches} watches")
    values = {
        "fs.inotify.max_user_instances": max(instances, need_instances),
        "fs.inotify.max_user_watches": max(watches, need_watches),
    }
    run_now = " ".join(f"{k}={v}" for k, v in values.items())
    persist = "\\n".join(f"{k} = {v}" for k, v in values.items())
    return Finding(
        "inotify",
        "error",
        f"{'; '.join(low)} for a fleet of {nodes} nodes: pods would fail with "
        "'too many open files'",
        f"`sudo sysctl -w {run_now}`; to keep it after a reboot: "
        f"`printf '{persist}\\n' | sudo tee /etc/sysctl.d/99-kindfleet.conf`",
    )


@dataclass(frozen=True)
class PortClaim:
    port: int
    protocol: str  # TCP | UDP | SCTP
    address: str  # "0.0.0.0" for every address
    owner: str  # "node platform-hub-control-plane", "registry kind-registry"
    cluster: str | None  # None: the registry


def port_claims(fleet: FleetSpec) -> list[PortClaim]:
    claims = []
    for cluster in fleet.clusters:
        net = cluster.networking
        if net.api_server_port:
            address = net.api_server_address or "127.0.0.1"
            owner = f"{cluster.name}'s API server"
            claims.append(PortClaim(net.api_server_port, "TCP", address, owner, cluster.name))
        for node in cluster.nodes:
            for m in node.port_mappings:
                if m.host_port:
                    address = m.listen_address or "0.0.0.0"
                    owner = f"node {node.name}"
                    claims.append(PortClaim(m.host_port, m.protocol, address, owner, cluster.name))
    if fleet.registry:
        reg = fleet.registry
        owner = f"registry {reg.name}"
        claims.append(PortClaim(reg.host_port, "TCP", reg.listen_address, owner, None))
    return claims


def network_findings(fleet: FleetSpec, network: str, subnets: Sequence[str]) -> list[Finding]:
    """The docker network the nodes join against every cluster's pod and service subnet:
    the fleet file checks its own declared ranges, but an existing network (made by hand,
    another tool's, Docker's address pools in 10.x) may hold a cluster's pod range, and a
    node whose address is inside it breaks pod routing without a word."""
    nets = []
    for text in subnets:
        with contextlib.suppress(ValueError):
            nets.append(ipaddress.ip_network(text, strict=False))
    found = []
    for cluster in fleet.clusters:
        net = cluster.networking
        ranges = [("podSubnet", v) for v in net.pod_subnet.split(",")]
        ranges += [("serviceSubnet", v) for v in net.service_subnet.split(",")]
        for field, value in ranges:
            try:
                mine = ipaddress.ip_network(value.strip(), strict=False)
            except ValueError:
                continue
            for used in nets:
                if used.version == mine.version and used.overlaps(mine):
                    found.append(Finding(
                        "network", "error",
                        f"docker network {network} uses {used}, which overlaps {cluster.name}'s "
                        f"{field} {mine}: nodes there would get addresses inside it",
                        f"give the cluster another {field} in the fleet file, or have kind use "
                        "another network (KIND_EXPERIMENTAL_DOCKER_NETWORK)",
                    ))  # fmt: skip
    return found or [Finding("network", "ok", f"docker network {network}: no overlap")]


def port_findings(
    claims: list[PortClaim],
    is_free: Callable[[PortClaim], bool],
    *,
    ours: Callable[[PortClaim], bool],
) -> list[Finding]:
    """One finding per claimed port something else holds (the ports of this fleet's
    clusters and registry that already run are theirs)."""
    out = []
    for claim in claims:
        if ours(claim) or is_free(claim):
            continue
        out.append(
            Finding(
                "ports",
                "error",
                f"host port {claim.address}:{claim.port}/{claim.protocol.lower()} "
                f"({claim.owner}) is in use",
                f"stop what holds it (`sudo ss -lnp 'sport = :{claim.port}'`, `docker ps`) or "
                "change the port in the fleet file",
            )
        )
    return out or [Finding("ports", "ok", f"{len(claims)} host ports free")]


# --- measuring -----------------------------------------------------------------------


class Probes(Protocol):
    def docker_info(self) -> dict[str, Any]: ...
    def kind_version(self) -> str | None: ...
    def kubectl_version(self) -> str | None: ...
    def sysctl(self, name: str) -> int | None: ...
    def engine_is_local(self, info: Mapping[str, Any]) -> bool: ...
    def port_free(self, address: str, port: int, protocol: str) -> bool: ...
    def network_subnets(self, name: str) -> list[str] | None: ...


class SystemProbes:
    """Measures this machine: docker/kind/kubectl through the runner, /proc, socket binds."""

    def __init__(
        self, runner: Runner, *, env: Mapping[str, str] | None = None, proc: Path = Path("/proc")
    ) -> None:
        self.runner = runner
        self.env = os.environ if env is None else env
        self.proc = proc

    def docker_info(self) -> dict[str, Any]:
        return dk.Docker(self.runner).info()

    def kind_version(self) -> str | None:
        return kind_provider.parse_version(self.runner.run(kind_provider.version_cmd()).stdout)

    def kubectl_version(self) -> str | None:
        client, _ = parse_versions(self.runner.run(client_version_cmd()).stdout)
        return client

    def sysctl(self, name: str) -> int | None:
        try:
            return int((self.proc / "sys" / name.replace(".", "/")).read_text().strip())
        except (OSError, ValueError):
            return None

    def engine_is_local(self, info: Mapping[str, Any]) -> bool:
        """Whether this machine's /proc is the engine's kernel (not Docker Desktop's VM)."""
        if not sys.platform.startswith("linux"):
            return False
        if "Docker Desktop" in str(info.get("OperatingSystem", "")):
            return False
        host = self.env.get("DOCKER_HOST", "")
        return host == "" or host.startswith("unix://")

    def network_subnets(self, name: str) -> list[str] | None:
        found = dk.Docker(self.runner).network(name)
        if found is None:
            return None
        configs = (found.get("IPAM") or {}).get("Config") or []
        return [str(c["Subnet"]) for c in configs if isinstance(c, dict) and c.get("Subnet")]

    def port_free(self, address: str, port: int, protocol: str) -> bool:
        if protocol.upper() not in ("TCP", "UDP"):
            return True  # SCTP: no portable test; docker reports a clash itself
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        kind = socket.SOCK_STREAM if protocol.upper() == "TCP" else socket.SOCK_DGRAM
        with socket.socket(family, kind) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((address, port))
            except OSError as exc:
                # An address this host does not have is docker's to report, not a clash.
                return exc.errno == errno.EADDRNOTAVAIL
        return True


def run(
    fleet: FleetSpec, probes: Probes, options: PreflightOptions, *, network: str = "kind"
) -> Report:
    """Every KIND check except the skipped ones. Raises nothing for a failed check (see
    `Report.raise_for_errors`); only an unknown check name is an error."""
    wanted = options.wanted(CHECKS)
    findings: list[Finding] = []
    versions: dict[str, str] = {}
    nodes = sum(len(c.nodes) for c in fleet.clusters)  # all of them run at once
    info: dict[str, Any] | None = None
    if {"docker", "cgroup", "memory", "inotify"} & set(wanted):
        info, error = probe(probes.docker_info)
        if "docker" in wanted:
            findings.append(docker_finding(info, error))
        if "cgroup" in wanted and info:
            cgroup = cgroup_finding(info, [c.kubernetes_version for c in fleet.clusters])
            findings += [cgroup] if cgroup else []
        if info:
            versions["docker"] = str(info.get("ServerVersion", "unknown"))
    for name, measure, decide in (
        ("kind", probes.kind_version, kind_finding),
        ("kubectl", probes.kubectl_version, kubectl_finding),
    ):
        if name in wanted:
            version, error = probe(measure)
            findings.append(decide(version, error))
            if version:
                versions[name] = version
    if "memory" in wanted and info is not None and nodes:
        total = info.get("MemTotal")
        needed = memory_needed(fleet)
        findings.append(memory_finding(int(total) if total else None, needed, nodes))
    if "inotify" in wanted and nodes:
        local = info is not None and probes.engine_is_local(info)
        instances = probes.sysctl("fs.inotify.max_user_instances") if local else None
        watches = probes.sysctl("fs.inotify.max_user_watches") if local else None
        findings.append(inotify_finding(instances, watches, nodes))
    if "ports" in wanted:

        def ours(claim: PortClaim) -> bool:
            return claim.cluster in options.existing if claim.cluster else options.registry_running

        def free(claim: PortClaim) -> bool:
            return probes.port_free(claim.address, claim.port, claim.protocol)

        findings += port_findings(port_claims(fleet), free, ours=ours)
    if "network" in wanted and info is not None:  # the engine answers
        subnets, _ = probe(lambda: probes.network_subnets(network))
        if subnets:  # None: no such network yet (kind makes it), or docker would not say
            findings += network_findings(fleet, network, subnets)
    return Report(tuple(findings), versions)
