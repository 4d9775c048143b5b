"""What the HTTP benchmarks share: a minimal keep-alive client, a closed-loop driver that
measures the server's own CPU per request, and a bare server to compare the hub with.

The client is a few lines of asyncio (no httpx, no pydantic) so that on a 2-core machine
it takes as little as it can from the server it measures. The bare server
(`bare_server.py`) is uvicorn with the hub's own loop and HTTP parser (uvloop, httptools)
and a Starlette endpoint that serves the same bytes (or parses the same model): the
ceiling the hub's figures are a ratio of, measured in the same run, on the same machine.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent


class Conn:
    """One keep-alive HTTP/1.1 connection; just enough protocol for the benchmarks."""

    def __init__(self, host: str, port: int, token: str = "") -> None:
        self.host, self.port = host, port
        self.auth = f"Authorization: Bearer {token}\r\n".encode() if token else b""
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=2**22)

    async def request(
        self, method: str, path: str, body: bytes = b"", extra: bytes = b""
    ) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n".encode()
        if body or method == "POST":
            head += (f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n").encode()
        self.writer.write(head + self.auth + extra + b"\r\n" + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length = 0
        for line in raw.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


# One request of the driver: (method, path, body, extra header lines) from a counter.
Request = Callable[[int], tuple[str, str, bytes, bytes]]


@dataclass
class Figures:
    label: str
    requests: int
    seconds: float
    server_cpu: float  # seconds of the server process's CPU (all threads) over the run
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        return self.server_cpu / self.requests * 1000

    def line(self) -> str:
        return (
            f"{self.label:<34} {self.rate:8.0f} req/s  server CPU {self.cpu_ms:6.3f} ms/req  "
            f"p50 {pct(self.latencies, 0.5) * 1000:6.1f} ms  "
            f"p99 {pct(self.latencies, 0.99) * 1000:6.1f} ms  statuses {self.statuses}"
        )


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_of(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def _drive(
    port: int, token: str, make: Request, *, concurrency: int, seconds: float, limit: int | None
) -> tuple[int, float, list[float], dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = iter(range(limit if limit is not None else 2**62))
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        conn = Conn("127.0.0.1", port, token)
        await conn.open()
        try:
            for i in counter:
                if time.perf_counter() >= stop_at:
                    return
                method, path, body, extra = make(i)
                t0 = time.perf_counter()
                status, _ = await conn.request(method, path, body, extra)
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), time.perf_counter() - t0, latencies, statuses


def drive(
    label: str,
    pid: int,
    port: int,
    make: Request,
    *,
    token: str = "",
    concurrency: int = 32,
    seconds: float = 5.0,
    limit: int | None = None,
) -> Figures:
    """Closed loop: `concurrency` connections send requests back to back for `seconds`
    (or until `limit` requests); the server's CPU is read before and after."""
    before = cpu_of(pid)
    n, elapsed, lat, statuses = asyncio.run(
        _drive(port, token, make, concurrency=concurrency, seconds=seconds, limit=limit)
    )
    return Figures(label, n, elapsed, cpu_of(pid) - before, lat, statuses)


class BareServer:
    """`bare_server.py` as a child process: GET serves `body` for any path; POST parses a
    WorkloadSpec (strictly, as the hub does) and answers `body` with 201."""

    def __init__(self, body: bytes) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="kf-bare-")
        self.home = Path(self._dir.name)
        (self.home / "body").write_bytes(body)
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> BareServer:
        port_file = self.home / "port"
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "bare_server.py"), str(self.home / "body"), str(port_file)]
        )
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the bare server did not start")
            time.sleep(0.02)
        self.port = int(port_file.read_text())
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
        self._dir.cleanup()


def ratio_line(name: str, ratios: list[float], target: float) -> str:
    low, high = min(ratios), max(ratios)
    verdict = "met" if low >= target else ("met in some rounds" if high >= target else "not met")
    return f"{name:<34} ratio to bare {low:.3f} - {high:.3f} over {len(ratios)} rounds (target >= {target}: {verdict})"
