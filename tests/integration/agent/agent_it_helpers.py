"""Helpers for the agent's integration tests: waiting, process checks, workload specs, and
`AgentProc`, a real agent process started as `python -m kindfleet.platform.agent ...` with
short timings (the local runtime uses the same flags with production timings)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from agent_hubdouble import HubServer

from kindfleet.platform.wire import WorkloadSpec

FAST = [
    "--poll-wait",
    "1",
    "--request-timeout",
    "2",
    "--stop-grace-seconds",
    "1",
    "--backoff-max",
    "0.4",
    "--flush-interval",
    "0.2",
    "--telemetry-seconds",
    "0.3",
    "--shutdown-flush-seconds",
    "3",
    "--log-level",
    "debug",
]


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


def gone(pid: int) -> bool:
    """No such process, or only a zombie left (pid 1 here does not always reap)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def spec(*command: str, **fields: object) -> WorkloadSpec:
    return WorkloadSpec.model_validate({"name": "job", "command": list(command), **fields})


def py(code: str, **fields: object) -> WorkloadSpec:
    return spec(sys.executable, "-c", code, **fields)


class AgentProc:
    def __init__(self, root: Path, hub: HubServer, name: str, extra: list[str]) -> None:
        self.root = root
        self.hub = hub
        self.name = name
        self.extra = extra
        self.state_dir = root / f"state-{name}"
        self.log_file = root / f"{name}.log"
        self.token_file = root / "bootstrap-token"
        self.token_file.write_text(hub.double.bootstrap_token)
        self.token_file.chmod(0o600)
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "kindfleet.platform.agent",
            "--hub",
            self.hub.url,
            "--name",
            self.name,
            "--state-dir",
            str(self.state_dir),
            "--bootstrap-token-file",
            str(self.token_file),
            "--log-file",
            str(self.log_file),
            *FAST,
            *self.extra,
        ]

    def start(self) -> AgentProc:
        self.starts += 1
        out = (self.root / f"{self.name}.out.{self.starts}").open("wb")
        self.proc = subprocess.Popen(self.argv(), stdout=out, stderr=subprocess.STDOUT)
        out.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 20) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def log(self) -> str:
        return self.log_file.read_text() if self.log_file.exists() else ""

    def run_dir(self, wid: str, generation: int = 1) -> Path:
        return self.state_dir / "runs" / f"{wid}-g{generation}"

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.state_dir.is_dir():  # what a test's kills left, as `kindfleet down` would
            state = str(self.state_dir)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "kindfleet.platform.agent.spokectl",
                    "reap",
                    "--state-dir",
                    state,
                ],
                capture_output=True,
                timeout=60,
                check=False,
            )
