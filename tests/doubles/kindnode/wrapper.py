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

One more thing it can do, for tests of a daemon that goes away mid-run (this machine's
engine is shared, so it cannot be stopped): while the file named by $KINDNODE_DOCKER_DOWN
exists, every call fails exactly as the docker CLI does with no daemon to talk to.

The wrapper is a POSIX shell script (kind runs docker a few hundred times per cluster:
a Python wrapper's start-up would add seconds). Each call is appended to a log, read
back with `calls()`: the arguments as given and the positions removed, NUL-separated
(arguments may hold newlines: kind's load balancer command does). It then execs the real
docker: same stdin, stdout, stderr, exit code and signals.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

SCRIPT = r"""#!/bin/sh
# Test-only docker wrapper written by tests/doubles/kindnode/wrapper.py: runs
# {docker} with the same arguments minus --privileged, which this engine refuses.
if [ -n "${{KINDNODE_DOCKER_DOWN:-}}" ] && [ -e "$KINDNODE_DOCKER_DOWN" ]; then
  echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
  exit 1
fi
log={log}
record=$(mktemp "${{TMPDIR:-/tmp}}/kindnode-docker.XXXXXX") || exit 125
exec 3>"$record"
printf 'call\0\0' >&3
state=global skip=0 index=0
for arg do
  shift
  index=$((index + 1))
  printf 'a\0%s\0' "$arg" >&3
  if [ "$skip" = 1 ]; then
    skip=0
    set -- "$@" "$arg"
    continue
  fi
  case "$state" in
    global)
      case "$arg" in
        --config|-c|--context|-H|--host|-l|--log-level|--tlscacert|--tlscert|--tlskey) skip=1 ;;
        -*) ;;
        container) state=container ;;
        run|create|exec) state=options ;;
        *) state=rest ;;
      esac ;;
    container)
      case "$arg" in run|create|exec) state=options ;; *) state=rest ;; esac ;;
    options)
      case "$arg" in
        --privileged|--privileged=true)
          printf 'r\0%s\0' "$index" >&3
          continue ;;
        --|-) state=rest ;;
        --*=*) ;;
        --detach|--tty|--interactive|--rm|--init|--publish-all|--read-only|--no-healthcheck|\
        --oom-kill-disable|--sig-proxy|--quiet|--help|--disable-content-trust|--use-api-socket) ;;
        --*) skip=1 ;;
        -[dtiPq]) ;;
        -?) skip=1 ;;
        -*) ;;
        *) state=rest ;;
      esac ;;
  esac
  set -- "$@" "$arg"
done
exec 3>&-
cat "$record" >> "$log"
rm -f "$record"
exec {docker} "$@"
"""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def real_docker(exclude: Path | None = None) -> str:
    """The docker executable on PATH, skipping the wrapper's own directory."""
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if exclude is not None and directory and Path(directory).resolve() == exclude.resolve():
            continue
        candidate = shutil.which("docker", path=directory)
        if candidate:
            return str(Path(candidate).resolve())
    raise RuntimeError("docker not found on PATH")


def write(bin_dir: Path, log: Path) -> Path:
    """Write the wrapper as bin_dir/docker (logging to log); put bin_dir first on PATH."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.touch()
    script = bin_dir / "docker"
    script.write_text(SCRIPT.format(docker=_quote(real_docker(bin_dir)), log=_quote(str(log))))
    script.chmod(0o755)
    return script


@dataclass(frozen=True)
class Call:
    argv: list[str]  # as kind (or anyone) called docker
    forwarded: list[str]  # as the real docker got it
    removed: list[str]  # what the wrapper took out


def calls(log: Path) -> list[Call]:
    """Every call the wrapper logged, in order."""
    tokens = log.read_bytes().split(b"\0")[:-1] if log.exists() else []
    records: list[tuple[list[str], set[int]]] = []
    for tag, value in zip(tokens[::2], tokens[1::2], strict=True):
        if tag == b"call":
            records.append(([], set()))
        elif tag == b"a":
            records[-1][0].append(value.decode(errors="surrogateescape"))
        elif tag == b"r":
            records[-1][1].add(int(value) - 1)
    return [
        Call(
            argv, [a for i, a in enumerate(argv) if i not in gone], [argv[i] for i in sorted(gone)]
        )
        for argv, gone in records
    ]
