"""Helpers for running a hub in tests and benchmarks: a fake clock and a real hub process.

Shipped with the package (like `kopf.testing`) so that the hub's own tests, the failure
drills and the benchmark start the hub exactly the way the local runtime does.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType


class FakeClock:
    """A clock tests move by hand: `clock()` reads it, `clock.advance(30)` moves it."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@dataclass
class HubProcess:
    """`python -m kindfleet.platform.hub` as a child process, on a free port.

    `start()` waits for the port file (written once the hub answers); `stop()` sends
    SIGTERM and returns the exit code; `kill()` is kill -9. The client token is generated
    into a file under `home` unless given; a fleet token (development only) only if given.
    `join_token(name)` mints a spoke's join token through the API, as an operator would.
    """

    home: Path
    store: str | None = None
    extra_args: list[str] = field(default_factory=list)
    client_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    fleet_token: str | None = None
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    port: int | None = None

    @property
    def url(self) -> str:
        assert self.port is not None, "start() the hub first"
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.home / "hub.log"

    @property
    def stderr_file(self) -> Path:
        return self.home / "hub.stderr"

    @property
    def port_file(self) -> Path:
        return self.home / "hub.port"

    def argv(self) -> list[str]:
        self.home.mkdir(parents=True, exist_ok=True)
        client = self.home / "client.token"
        fleet = self.home / "fleet.token"
        tokens = [(client, self.client_token)]
        if self.fleet_token:
            tokens.append((fleet, self.fleet_token))
        for path, token in tokens:
            path.write_text(token + "\n", encoding="utf-8")
            path.chmod(0o600)
        store = self.store or f"sqlite:///{(self.home / 'hub.db').resolve()}"
        fleet_args = ["--fleet-token-file", str(fleet)] if self.fleet_token else []
        return [
            sys.executable,
            "-m",
            "kindfleet.platform.hub",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--port-file",
            str(self.port_file),
            "--store",
            store,
            "--client-token-file",
            str(client),
            *fleet_args,
            "--log-file",
            str(self.log_file),
            *self.extra_args,
        ]

    def start(self, timeout: float = 20.0) -> HubProcess:
        self.port_file.unlink(missing_ok=True)
        env = {**os.environ, **(self.env or {})}
        argv = self.argv()
        # A file, not a pipe nobody reads: a hub that writes more than a pipe holds (a
        # thread's traceback at a time) would block on it, and what it said is kept.
        with self.stderr_file.open("ab") as stderr:
            self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.port_file.exists():
                self.port = int(self.port_file.read_text().strip())
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited with {self.proc.returncode}: {self.log()}")
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"hub did not write its port file within {timeout}s: {self.log()}")

    def join_token(self, spoke: str, ttl_seconds: float | None = None) -> str:
        """A join token for `spoke`, minted with the client token (as `kindfleet spokes
        token` does)."""
        import json
        import urllib.request

        body = json.dumps({} if ttl_seconds is None else {"ttl_seconds": ttl_seconds})
        request = urllib.request.Request(
            f"{self.url}/v1/spokes/{spoke}/join-tokens",
            data=body.encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {self.client_token}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.loads(response.read())["token"])

    def log(self) -> str:
        """What the hub said: its log file, then what it wrote to stderr."""
        return "".join(
            path.read_text(errors="replace")
            for path in (self.log_file, self.stderr_file)
            if path.exists()
        )

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, wait, return the exit code (kill -9 if it does not exit in time)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self._reap()

    def kill(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        return self._reap()

    def _reap(self) -> int:
        assert self.proc is not None
        code = self.proc.returncode
        self.proc = None
        return code

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> HubProcess:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.kill()
