"""A `docker` for tests to put first on PATH: the real docker, minus `--privileged`.

This engine refuses privileged containers ("unable to apply caps: operation not
permitted"), for `docker run` and `docker exec` alike. kind asks for `--privileged` on
every node container (`run`) and for every command it runs in a node (`exec`). The
wrapper removes exactly that flag (`--privileged`, `--privileged=true`) where docker
parses it: among the options of `run`, `create` and `exec` (also as `docker container
run|create|exec`), before the image or container name, never from the command that
follows. Everything else is passed through unchanged, including what privileged would
otherwise imply that the engine does accept and kind asks for explicitly
(`--security-opt seccomp=unconfined`, `--security-opt apparmor=unconfined`); the
remaining implications (all capabilities, all devices, a writable /sys, no masked
paths) are simply not had: the simulated node needs none of them.

Each call is logged to a JSON-lines file, {"argv", "forwarded", "removed"}, before the
wrapper execs the real docker (same stdin, stdout, stderr, exit code, signals).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .dockerargs import strip_privileged

__all__ = ["Call", "calls", "strip_privileged", "write"]

SCRIPT = """#!{python} -S -E
# Test-only docker wrapper written by tests/doubles/kindnode/wrapper.py: forwards to
# {docker}, removing --privileged (refused by this engine). See that module.
import json, os, sys
sys.path.insert(0, {here!r})
from dockerargs import strip_privileged
argv = sys.argv[1:]
forwarded, removed = strip_privileged(argv)
line = json.dumps({{"argv": argv, "forwarded": forwarded, "removed": removed}}) + "\\n"
fd = os.open({log!r}, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.write(fd, line.encode())
os.close(fd)
os.execv({docker!r}, [{docker!r}, *forwarded])
"""


def real_docker(exclude: Path | None = None) -> str:
    """The docker executable on PATH, skipping the wrapper's own directory."""
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if exclude is not None and Path(directory).resolve() == exclude.resolve():
            continue
        candidate = shutil.which("docker", path=directory)
        if candidate:
            return str(Path(candidate).resolve())
    raise RuntimeError("docker not found on PATH")


def write(bin_dir: Path, log: Path) -> Path:
    """Write the wrapper as bin_dir/docker (logging to log); put bin_dir first on PATH."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "docker"
    script.write_text(SCRIPT.format(python=sys.executable, docker=real_docker(bin_dir),
                                    here=str(Path(__file__).resolve().parent), log=str(log)))  # fmt: skip
    script.chmod(0o755)
    return script


@dataclass(frozen=True)
class Call:
    argv: list[str]
    forwarded: list[str]
    removed: list[str]


def calls(log: Path) -> list[Call]:
    """Every call the wrapper logged, in order."""
    if not log.exists():
        return []
    return [Call(**json.loads(line)) for line in log.read_text().splitlines() if line.strip()]
