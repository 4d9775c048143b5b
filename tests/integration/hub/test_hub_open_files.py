"""Connections may not take the descriptors the hub needs for itself: with 300 idle
connections against a hub allowed 128 open files, its store readers failed to open and
its scheduler pass failed twice a second (found from outside)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx2
import psutil

from kindfleet.platform.hub.testing import HubProcess
from kindfleet.platform.openfiles import CEILING, RESERVE


def _start_limited(home: Path, limit: str) -> HubProcess:
    """The hub under `ulimit <limit>` (in sh: `-n N` sets both limits, `-Sn N` the soft)."""
    hub = HubProcess(home)
    argv = hub.argv()
    hub.proc = subprocess.Popen(["sh", "-c", f'ulimit {limit}; exec "$@"', "sh", *argv])
    deadline = time.monotonic() + 30
    while not hub.port_file.exists():
        assert hub.proc.poll() is None and time.monotonic() < deadline, hub.log()
        time.sleep(0.02)
    hub.port = int(hub.port_file.read_text())
    return hub


def test_idle_connections_leave_the_hub_its_own_descriptors(tmp_path: Path):
    hub = _start_limited(tmp_path / "hub", "-n 256")
    flood: list[socket.socket] = []
    try:
        for _ in range(400):
            try:
                flood.append(socket.create_connection(("127.0.0.1", hub.port), timeout=5))
            except OSError:
                break
        time.sleep(1.5)  # three scheduler passes, a checkpoint: each opens what it needs
        log = hub.log()
        assert "cannot connect" not in log and "failed" not in log, log
        assert f"at most {256 - RESERVE} connections, not 1024" in log  # and why
        for conn in flood:
            conn.close()
        flood.clear()
        assert httpx2.get(f"{hub.url}/healthz", timeout=10).status_code == 200
    finally:
        for conn in flood:
            conn.close()
        hub.kill()


def test_a_soft_limit_below_the_hard_one_is_raised(tmp_path: Path):
    hard = int(subprocess.run(["sh", "-c", "ulimit -Hn"], capture_output=True, text=True,
                              check=True).stdout)  # fmt: skip
    hub = _start_limited(tmp_path / "hub", "-Sn 256")
    try:
        assert psutil.Process(hub.pid).rlimit(psutil.RLIMIT_NOFILE)[0] == min(hard, CEILING)
        assert "connections, not" not in hub.log()
    finally:
        hub.kill()
