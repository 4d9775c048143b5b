"""Each local spoke's link to the hub: the proxy its agent dials (`netproxy.py`), started
with the spoke, stopped with it, and set to `pass`, `partition` or `slow` by faults.

A change is written to the proxy's control file and signalled (SIGHUP); it is in force
once the proxy's status file says so (its generation caught up), so a `partition` that
returned is a partition. The control file outlives the proxy: one restarted by `up`
comes back in the mode it was in.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from kindfleet.errors import KindfleetError
from kindfleet.providers.local import processes

SCRIPT = Path(__file__).with_name("netproxy.py")
MODES = ("pass", "partition", "slow")


@dataclass(frozen=True)
class LinkState:
    """What the proxy reports it applies: mode, since when, who waits at the partition."""

    spoke: str
    mode: str
    since: float
    latency_ms: int = 0
    loss_percent: float = 0.0
    connections: int = 0
    waiting: int = 0  # connections or transfers held by a partition
    running: bool = True


class LinkFiles:
    def __init__(self, spoke_dir: Path) -> None:
        self.dir = spoke_dir / "link"
        self.pidfile = self.dir / "pid"
        self.log = self.dir / "log"
        self.port = self.dir / "port"
        self.control = self.dir / "control.json"
        self.status = self.dir / "status.json"

    def url(self) -> str | None:
        try:
            return f"http://127.0.0.1:{int(self.port.read_text().strip())}"
        except (OSError, ValueError):
            return None

    def read_status(self) -> dict[str, object] | None:
        try:
            data = json.loads(self.status.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def read_control(self) -> dict[str, object]:
        try:
            data = json.loads(self.control.read_text())
        except (OSError, ValueError):
            return {"mode": "pass", "generation": 0}
        return data if isinstance(data, dict) else {"mode": "pass", "generation": 0}


def start(python: str, files: LinkFiles, hub_port_file: Path, wait: float = 10.0) -> str:
    """Make the spoke's proxy run (kept if it does); its URL, for the agent's `--hub`."""
    files.dir.mkdir(parents=True, exist_ok=True)
    if processes.running(files.pidfile) is None:
        if not files.control.exists():
            _write_control(files, {"mode": "pass", "generation": 0})
        files.status.unlink(missing_ok=True)
        argv = [
            python, str(SCRIPT),
            "--port-file", str(files.port),
            "--upstream-port-file", str(hub_port_file),
            "--control", str(files.control),
            "--status", str(files.status),
        ]  # fmt: skip
        handle = processes.spawn(argv, pidfile=files.pidfile, logfile=files.log)
        deadline = time.monotonic() + wait
        while (files.read_status() or {}).get("pid") != handle.pid:
            if not processes.alive(handle):
                raise KindfleetError(
                    f"the link proxy exited while starting:\n{processes.log_tail(files.log, 5)}",
                    hint=f"its log: {files.log}",
                )
            if time.monotonic() > deadline:
                processes.stop(files.pidfile, grace_seconds=1)
                raise KindfleetError(f"the link proxy did not start within {wait:.0f}s")
            time.sleep(0.02)
    url = files.url()
    if url is None:
        raise KindfleetError(f"the link proxy wrote no port to {files.port}")
    return url


def stop(files: LinkFiles) -> None:
    processes.stop(files.pidfile, grace_seconds=2)


def set_mode(
    files: LinkFiles,
    mode: str,
    *,
    latency_ms: int = 0,
    loss_percent: float = 0.0,
    wait: float = 10.0,
) -> None:
    """Put the link in `mode` and return once the proxy applies it."""
    if mode not in MODES:
        raise KindfleetError(f"{mode!r} is not a link mode ({', '.join(MODES)})")
    generation = int(str(files.read_control().get("generation", 0))) + 1
    _write_control(
        files,
        {
            "mode": mode,
            "latency_ms": latency_ms,
            "loss_percent": loss_percent,
            "generation": generation,
        },
    )
    handle = processes.running(files.pidfile)
    if handle is None:
        if mode == "pass":
            return  # nothing to undo: the control file says pass for its next start
        raise KindfleetError(
            f"the spoke's link proxy is not running ({files.dir})",
            hint="`kindfleet up` starts it again (the fault is kept in its control file)",
        )
    os.kill(handle.pid, signal.SIGHUP)
    deadline = time.monotonic() + wait
    while int(str((files.read_status() or {}).get("generation", -1))) < generation:
        if not processes.alive(handle):
            raise KindfleetError(
                f"the link proxy (pid {handle.pid}) exited instead of applying {mode}:\n"
                f"{processes.log_tail(files.log, 5)}",
                hint="`kindfleet up` starts it again (the mode is kept in its control file)",
            )
        if time.monotonic() > deadline:
            raise KindfleetError(
                f"the link proxy (pid {handle.pid}) did not apply {mode} within {wait:.0f}s",
                hint=f"its log: {files.log}",
            )
        time.sleep(0.02)


def state(spoke: str, files: LinkFiles) -> LinkState:
    status = files.read_status()
    running = processes.running(files.pidfile) is not None
    if status is None:
        control = files.read_control()
        return LinkState(spoke, str(control.get("mode", "pass")), 0.0, running=running)
    return LinkState(
        spoke=spoke,
        mode=str(status.get("mode", "pass")),
        since=float(str(status.get("since", 0.0))),
        latency_ms=int(str(status.get("latency_ms", 0))),
        loss_percent=float(str(status.get("loss_percent", 0.0))),
        connections=int(str(status.get("connections", 0))),
        waiting=int(str(status.get("waiting", 0))),
        running=running,
    )


def _write_control(files: LinkFiles, data: dict[str, object]) -> None:
    files.dir.mkdir(parents=True, exist_ok=True)
    tmp = files.control.with_name(f".{files.control.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(files.control)
