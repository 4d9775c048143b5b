"""Docker, for what KIND has no verb for: the registry container, networks, inspect, stats.

Every command is built by a function with no I/O (tests compare the argv exactly) and
run by `Docker` through the injected runner; parsing of what docker prints is pure too.
Things kindfleet creates carry the `dev.kindfleet.fleet` label and are found by it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kindfleet.exec import Command, CommandError, Result, Runner, cmd

DOCKER = "docker"
NO_SUCH = ("No such object", "No such container", "No such network", "not found")

# --- commands (pure) -----------------------------------------------------------------


def info_cmd() -> Command:
    return cmd(DOCKER, "info", "--format", "{{json .}}", timeout=30)


def version_cmd() -> Command:
    return cmd(DOCKER, "version", "--format", "{{json .}}", timeout=30)


def inspect_cmd(*names: str) -> Command:
    return cmd(DOCKER, "inspect", "--type", "container", *names, timeout=60)


def ps_cmd(
    *, labels: Mapping[str, str | None] | None = None, network: str | None = None
) -> Command:
    argv = [DOCKER, "ps", "-a"]
    for key, value in (labels or {}).items():
        argv += ["--filter", f"label={key}" if value is None else f"label={key}={value}"]
    if network:
        argv += ["--filter", f"network={network}"]
    return cmd(*argv, "--format", "{{.Names}}", timeout=60)


def run_cmd(
    name: str,
    image: str,
    *,
    labels: Mapping[str, str] | None = None,
    publish: Sequence[str] = (),
    network: str | None = None,
    restart: str | None = None,
    args: Sequence[str] = (),
) -> Command:
    argv = [DOCKER, "run", "--detach", "--name", name]
    if restart:
        argv.append(f"--restart={restart}")
    for key, value in (labels or {}).items():
        argv += ["--label", f"{key}={value}"]
    for spec in publish:
        argv += ["--publish", spec]
    if network:
        argv += ["--network", network]
    return cmd(*argv, image, *args, timeout=300)


def image_inspect_cmd(ref: str) -> Command:
    return cmd(DOCKER, "image", "inspect", "--format", "{{.Id}}", ref, timeout=60)


def pull_cmd(ref: str) -> Command:
    return cmd(DOCKER, "pull", ref, timeout=900)


def start_cmd(name: str) -> Command:
    return cmd(DOCKER, "start", name, timeout=60)


def rm_cmd(*names: str) -> Command:
    return cmd(DOCKER, "rm", "--force", "--volumes", *names, timeout=120)


def exec_cmd(container: str, argv: Sequence[str], *, stdin: str | None = None) -> Command:
    flags = ["--interactive"] if stdin is not None else []
    return cmd(DOCKER, "exec", *flags, container, *argv, stdin=stdin, timeout=60)


def write_file_cmd(container: str, path: str, content: str) -> Command:
    """Write `content` to `path` inside a running container (mkdir -p its directory)."""
    directory = path.rsplit("/", 1)[0] or "/"
    script = f'mkdir -p "{directory}" && cat > "{path}"'
    return exec_cmd(container, ["sh", "-c", script], stdin=content)


def network_inspect_cmd(name: str) -> Command:
    return cmd(DOCKER, "network", "inspect", name, timeout=30)


def network_connect_cmd(network: str, container: str) -> Command:
    return cmd(DOCKER, "network", "connect", network, container, timeout=60)


def network_rm_cmd(name: str) -> Command:
    return cmd(DOCKER, "network", "rm", name, timeout=60)


def network_ids_cmd(name: str) -> Command:
    """The IDs of every network with exactly this name (parallel creates can make several)."""
    return cmd(
        DOCKER, "network", "ls", "--filter", f"name=^{name}$", "--format", "{{.ID}}", timeout=30
    )


def stats_cmd(*names: str) -> Command:
    return cmd(
        DOCKER, "stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}", *names, timeout=60
    )


# --- parsing (pure) ------------------------------------------------------------------

_SIZE = re.compile(r"^\s*([0-9.]+)\s*([KMGTP]?i?B)\s*$")
_UNITS = {
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
    "PiB": 2**50,
}


def parse_size(text: str) -> int | None:
    """Bytes in a size as `docker stats` prints it: 872KiB, 1.2GiB, 0B."""
    match = _SIZE.match(text)
    if not match or match.group(2) not in _UNITS:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def parse_stats(text: str) -> dict[str, int]:
    """Container name -> memory in use, from `stats_cmd` output (`name<TAB>used / limit`)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        name, _, usage = line.partition("\t")
        used = parse_size(usage.split("/")[0]) if usage else None
        if name and used is not None:
            out[name.strip()] = used
    return out


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    state: str  # running, exited, created, ...
    labels: Mapping[str, str]
    networks: Mapping[str, str]  # network -> IPv4 address ("" when none)
    ports: Mapping[str, tuple[str, int]]  # "6443/tcp" -> (host ip, host port)
    hostname: str = ""
    env: Sequence[str] = field(default_factory=tuple)

    @property
    def running(self) -> bool:
        return self.state == "running"


def _ports(raw: Mapping[str, Any] | None) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for key, bindings in (raw or {}).items():
        for binding in bindings or []:
            if binding.get("HostPort"):
                out.setdefault(key, (binding.get("HostIp", ""), int(binding["HostPort"])))
    return out


def parse_inspect(text: str) -> list[Container]:
    """Containers from `docker inspect` JSON (missing ones are simply absent)."""
    try:
        data = json.loads(text) if text.strip() else []
    except json.JSONDecodeError:
        return []
    out = []
    for item in data:
        config = item.get("Config") or {}
        settings = item.get("NetworkSettings") or {}
        networks = {
            k: (v or {}).get("IPAddress", "") for k, v in (settings.get("Networks") or {}).items()
        }
        out.append(
            Container(
                name=str(item.get("Name", "")).lstrip("/"),
                image=str(config.get("Image", "")),
                state=str((item.get("State") or {}).get("Status", "unknown")),
                labels=dict(config.get("Labels") or {}),
                networks=networks,
                ports=_ports(settings.get("Ports")),
                hostname=str(config.get("Hostname", "")),
                env=tuple(config.get("Env") or ()),
            )
        )
    return out


def _missing(result: Result) -> bool:
    return any(marker in result.stderr for marker in NO_SUCH)


# --- adapter -------------------------------------------------------------------------


class Docker:
    """The docker CLI through the injected runner; no state of its own."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def info(self) -> dict[str, Any]:
        result = self.runner.run(info_cmd())
        data = json.loads(result.stdout or "{}")
        return data if isinstance(data, dict) else {}

    def inspect(self, *names: str) -> list[Container]:
        """The named containers that exist (a missing name is not an error)."""
        if not names:
            return []
        result = self.runner.run(inspect_cmd(*names), check=False)
        if not result.ok and not _missing(result):
            raise CommandError(result)
        return parse_inspect(result.stdout)

    def container(self, name: str) -> Container | None:
        found = self.inspect(name)
        return found[0] if found else None

    def names(
        self, *, labels: Mapping[str, str | None] | None = None, network: str | None = None
    ) -> list[str]:
        result = self.runner.run(ps_cmd(labels=labels, network=network))
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def run(self, command: Command) -> str:
        return self.runner.run(command).stdout.strip()

    def has_image(self, ref: str) -> bool:
        return self.runner.run(image_inspect_cmd(ref), check=False).ok

    def start(self, name: str) -> None:
        self.runner.run(start_cmd(name))

    def remove(self, *names: str) -> None:
        """Force-remove containers; ones already gone are fine."""
        if not names:
            return
        result = self.runner.run(rm_cmd(*names), check=False)
        if not result.ok and not _missing(result):
            raise CommandError(result)

    def write_file(self, container: str, path: str, content: str) -> None:
        self.runner.run(write_file_cmd(container, path, content))

    def read_file(self, container: str, path: str) -> str:
        return self.runner.run(exec_cmd(container, ["cat", path])).stdout

    def network(self, name: str) -> dict[str, Any] | None:
        result = self.runner.run(network_inspect_cmd(name), check=False)
        if not result.ok:
            if _missing(result):
                return None
            raise CommandError(result)
        data = json.loads(result.stdout or "[]")
        return data[0] if data else None

    def connect(self, network: str, container: str) -> bool:
        """Attach a container to a network; False when it already was."""
        result = self.runner.run(network_connect_cmd(network, container), check=False)
        if result.ok:
            return True
        if "already exists" in result.stderr:
            return False
        raise CommandError(result)

    def remove_network_if_unused(self, name: str) -> bool:
        """Remove the network(s) of this name that no container, running or stopped, is on
        (by ID: same-named duplicates are ambiguous by name); True when any was removed."""
        ids = self.runner.run(network_ids_cmd(name)).stdout.split()
        removed = False
        for network_id in ids:
            if self.names(network=network_id):
                continue
            result = self.runner.run(network_rm_cmd(network_id), check=False)
            if result.ok:
                removed = True
            elif not (_missing(result) or "active endpoints" in result.stderr):
                raise CommandError(result)
        return removed

    def memory(self, *names: str) -> dict[str, int]:
        """Memory in use by each running container named (absent when docker cannot say)."""
        if not names:
            return {}
        result = self.runner.run(stats_cmd(*names), check=False)
        return parse_stats(result.stdout) if result.ok else {}
