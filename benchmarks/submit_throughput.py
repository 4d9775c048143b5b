"""Durable submissions per second into a real hub process, with latency and hub memory.

Starts `python -m kindfleet.platform.hub` (SQLite, WAL, synchronous=FULL by default, or
--store URL), drives N single submissions over real HTTP with C concurrent keep-alive
connections (each with its own Idempotency-Key), then optionally the same N as batches,
and prints submissions/s, p50/p99 latency and the hub's resident memory (psutil).

Every 2xx counted here is a committed, fsynced row: after the run the script stops the
hub and counts the rows in the store, and fails if any acknowledged submission is
missing. The load generator is a minimal asyncio HTTP/1.1 client so that, on a 2-core
machine, the client's own overhead takes as little as possible from the hub.

    .venv/bin/python benchmarks/submit_throughput.py --requests 20000 --concurrency 64
    .venv/bin/python benchmarks/submit_throughput.py --mode batch --batch-size 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil
from httpload import Conn

from kindfleet.platform.hub.testing import HubProcess


def spec(i: int) -> dict:
    return {
        "name": f"bench-{i % 1000}",
        "command": ["python", "-c", "print('hello')"],
        "resources": {"cpu": "100m", "memory": "64Mi"},
        "labels": {"team": "bench"},
    }


async def run_single(port: int, token: str, n: int, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(n))
    failures: list[str] = []

    async def worker() -> None:
        conn = Conn("127.0.0.1", port, token)
        await conn.open()
        try:
            for i in counter:
                body = json.dumps(spec(i)).encode()
                key = f"Idempotency-Key: {uuid.uuid4()}\r\n".encode()
                t0 = time.perf_counter()
                status, payload = await conn.request("POST", "/v1/workloads", body, key)
                latencies.append(time.perf_counter() - t0)
                if status != 201:
                    failures.append(f"{status} {payload[:200]!r}")
        finally:
            conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    if failures:
        raise SystemExit(f"{len(failures)} submissions failed, e.g. {failures[0]}")
    return elapsed, latencies


async def run_batch(
    port: int, token: str, n: int, concurrency: int, size: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    batches = iter(range(0, n, size))
    failures: list[str] = []

    async def worker() -> None:
        conn = Conn("127.0.0.1", port, token)
        await conn.open()
        try:
            for start in batches:
                items = [
                    {"idempotency_key": str(uuid.uuid4()), "spec": spec(i)}
                    for i in range(start, min(start + size, n))
                ]
                body = json.dumps({"items": items}).encode()
                t0 = time.perf_counter()
                status, payload = await conn.request("POST", "/v1/workloads:batch", body)
                latencies.append(time.perf_counter() - t0)
                if status != 201:
                    failures.append(f"{status} {payload[:200]!r}")
        finally:
            conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    if failures:
        raise SystemExit(f"{len(failures)} batches failed, e.g. {failures[0]}")
    return elapsed, latencies


class PeakRss:
    """Samples the hub's resident memory every 100 ms while the load runs."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.sample()

    def sample(self) -> int:
        rss = self.proc.memory_info().rss
        self.peak = max(self.peak, rss)
        return rss

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(label: str, items: int, elapsed: float, lat: list[float]) -> None:
    print(
        f"{label:<28} {items:>7} in {elapsed:6.2f}s  {items / elapsed:8.0f} durable submissions/s  "
        f"request p50 {pct(lat, 0.5) * 1000:6.1f} ms  p99 {pct(lat, 0.99) * 1000:6.1f} ms  "
        f"max {max(lat) * 1000:6.1f} ms  (mean {statistics.fmean(lat) * 1000:.1f} ms)"
    )


def group_stats(metrics: str) -> str:
    total = count = 0.0
    for line in metrics.splitlines():
        if line.startswith("kindfleet_hub_store_group_jobs_sum"):
            total = float(line.split()[-1])
        if line.startswith("kindfleet_hub_store_group_jobs_count"):
            count = float(line.split()[-1])
    return f"{count:.0f} commits, {total / count:.1f} jobs per commit" if count else "no commits"


def count_rows(store: Path) -> int:
    import sqlite3

    with sqlite3.connect(store) as db:
        return int(db.execute("select count(*) from kf_workloads").fetchone()[0])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=20000, help="submissions per mode")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--mode", choices=["single", "batch", "both"], default="both")
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--store", help="a store URL (default: SQLite in a temporary directory)")
    ap.add_argument("--warmup", type=int, default=1000)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="kf-bench-") as tmp:
        home = Path(tmp)
        hub = HubProcess(home, store=args.store)
        hub.start()
        import httpx2

        try:
            token = hub.client_token
            with PeakRss(hub.pid) as rss:
                idle = rss.sample()
                acked = 0
                asyncio.run(run_single(hub.port or 0, token, args.warmup, 16))
                acked += args.warmup
                print(
                    f"hub pid {hub.pid}, store {args.store or 'sqlite (WAL, synchronous=FULL)'}, "
                    f"{psutil.cpu_count()} CPUs, concurrency {args.concurrency}"
                )
                if args.mode in ("single", "both"):
                    elapsed, lat = asyncio.run(
                        run_single(hub.port or 0, token, args.requests, args.concurrency)
                    )
                    acked += args.requests
                    report("single submissions", args.requests, elapsed, lat)
                if args.mode in ("batch", "both"):
                    elapsed, lat = asyncio.run(
                        run_batch(
                            hub.port or 0,
                            token,
                            args.requests,
                            args.concurrency // 8 or 1,
                            args.batch_size,
                        )
                    )
                    acked += args.requests
                    report(f"batches of {args.batch_size}", args.requests, elapsed, lat)
                after = rss.sample()
            metrics = httpx2.get(
                f"{hub.url}/metrics", headers={"Authorization": f"Bearer {token}"}
            ).text
            print(f"group commit: {group_stats(metrics)}")
            print(
                f"hub RSS: {idle / 2**20:.0f} MiB idle, {rss.peak / 2**20:.0f} MiB peak, "
                f"{after / 2**20:.0f} MiB after the run"
            )
        finally:
            code = hub.stop()
        if code != 0:
            print(f"hub exited with {code}", file=sys.stderr)
        if args.store is None:
            stored = count_rows(home / "hub.db")
            verdict = "all there" if stored == acked else "MISSING ROWS"
            print(f"durability: {acked} acknowledged, {stored} rows in the store ({verdict})")
            if stored != acked:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
