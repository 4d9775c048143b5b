"""Health checks for the platform's image: Docker's HEALTHCHECK and Kubernetes' probes.

    python -m kindfleet.platform.health            # whatever runs as PID 1 here
    python -m kindfleet.platform.health hub --port 8080
    python -m kindfleet.platform.health agent --state-dir /var/lib/kindfleet

One image serves as hub and as agent, so with no arguments the check reads PID 1's
command line to know which it is. The hub is healthy when its /healthz answers. The
agent is healthy while its heartbeat loop turns (it marks a file each round, whether or
not the hub answered): a hub outage must never get the spokes' orchestrators restarted.

A probe starts a Python each time, on a node that may be busy: this module imports only
a few standard modules (no urllib, which pulls in http.client, email and ssl; nothing of
kindfleet's fleet tooling or the platform's dependencies), so it starts in a few tens of
milliseconds. tests/integration/hub/test_health_light.py keeps it so.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ALIVE_FILE = "alive"
STALE_AFTER = 90.0  # seconds; the loop turns at least every backoff cap (10 s by default)


def mark_alive(state_dir: Path) -> None:
    """The agent's sign of life: touch a file in its state directory."""
    try:
        (state_dir / ALIVE_FILE).touch()
    except OSError:
        return  # a full or read-only disk is for the next check to report


def _flag(argv: Sequence[str], name: str, default: str) -> str:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def check_hub(port: int, timeout: float = 3.0) -> str | None:
    """GET /healthz over a plain socket: the status line is all a probe needs."""
    url = f"http://127.0.0.1:{port}/healthz"
    request = f"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
            conn.sendall(request)
            head = conn.recv(64).split(b"\r\n", 1)[0].decode("latin-1")
    except OSError as exc:
        return f"{url} did not answer: {exc}"
    parts = head.split()
    if len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1] == "200":
        return None
    return f"{url} answered {head or 'nothing'}"


def check_agent(state_dir: Path, now: float | None = None) -> str | None:
    mark = state_dir / ALIVE_FILE
    try:
        age = (now if now is not None else time.time()) - mark.stat().st_mtime
    except OSError:
        return f"no sign of life in {mark} yet"
    return None if age <= STALE_AFTER else f"the agent's loop last turned {age:.0f}s ago"


def check_cmdline(argv: Sequence[str]) -> str | None:
    """Check whatever `argv` (a process's command line) runs."""
    if any("kindfleet.platform.hub" in a for a in argv):
        return check_hub(int(_flag(argv, "--port", "8080")))
    if any("kindfleet.platform.agent" in a for a in argv):
        return check_agent(Path(_flag(argv, "--state-dir", "/var/lib/kindfleet")))
    return "neither the hub nor the agent runs as PID 1 here; name one: hub or agent"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kindfleet.platform.health",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("role", nargs="?", choices=["hub", "agent"])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--state-dir", type=Path, default=Path("/var/lib/kindfleet"))
    args = parser.parse_args(argv)
    if args.role == "hub":
        problem = check_hub(args.port)
    elif args.role == "agent":
        problem = check_agent(args.state_dir)
    else:
        try:
            raw = Path("/proc/1/cmdline").read_bytes()
        except OSError as exc:
            problem = f"cannot read PID 1's command line: {exc}"
        else:
            problem = check_cmdline([a.decode() for a in raw.split(b"\0") if a])
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
