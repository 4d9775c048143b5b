"""A deep queue that fits nowhere must not slow the hub: heartbeats and `GET /v1/spokes`
stay fast, its memory stays small, no spoke goes NotReady.

Starts a real hub process (SQLite by default), joins --spokes spokes with join tokens and
keeps them heartbeating every second from threads, then submits --pending workloads that
fit nowhere (half ask for a label no spoke has, half for more cpu than any spoke has, in
--shapes different sizes), in batches of 1,000. It measures, while loading and then for
--seconds after: the latency of every heartbeat and of a `GET /v1/spokes` loop (p50, p99,
max), the hub's resident memory (psutil), and whether any spoke was ever reported other
than Ready. Prints the figures; exits 1 if a spoke went NotReady.

    .venv/bin/python benchmarks/scheduling.py --pending 100000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx2
import psutil

from kindfleet.platform.hub.testing import HubProcess

CAPACITY = {"cpu_millis": 4000, "memory_bytes": 8 * 2**30, "gpus": 0}


def spec(i: int, shapes: int) -> dict:
    size = 8 + i % shapes  # cores: more than any spoke has
    if i % 2:
        return {
            "name": f"nowhere-{i % 100}",
            "command": ["python", "-c", "print('never')"],
            "resources": {"cpu": "100m", "memory": "64Mi"},
            "selector": {"match_labels": {"pool": "none"}},
            "env": {"DATASET": f"s3://bucket/shard-{i}"},
        }
    return {
        "name": f"too-big-{i % 100}",
        "command": ["python", "-c", "print('never')"],
        "resources": {"cpu": str(size), "memory": "1Gi"},
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def shown(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    if not ms:
        return f"{name}: no samples"
    return (
        f"{name}: n={len(ms)} p50={statistics.median(ms):.1f} ms "
        f"p99={percentile(ms, 0.99):.1f} ms max={max(ms):.1f} ms"
    )


class Probe:
    """Heartbeats of every spoke and a spoke-list loop, timed, in phases."""

    def __init__(self, hub: HubProcess, credentials: dict[str, str]) -> None:
        self.hub = hub
        self.credentials = credentials
        self.phase = "load"
        self.beats: dict[str, list[float]] = {"load": [], "steady": []}
        self.lists: dict[str, list[float]] = {"load": [], "steady": []}
        self.not_ready: list[str] = []
        self.stop = threading.Event()
        self.rss: dict[str, float] = {"load": 0.0, "steady": 0.0}

    def heartbeat(self, name: str) -> None:
        with httpx2.Client(timeout=30) as http:
            while not self.stop.is_set():
                started = time.perf_counter()
                response = http.post(
                    f"{self.hub.url}/v1/spokes/{name}/heartbeat",
                    json={"capacity": CAPACITY},
                    headers={"Authorization": f"Bearer {self.credentials[name]}"},
                )
                self.beats[self.phase].append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
                self.stop.wait(1.0)

    def spoke_list(self) -> None:
        auth = {"Authorization": f"Bearer {self.hub.client_token}"}
        with httpx2.Client(timeout=30, headers=auth) as http:
            while not self.stop.is_set():
                started = time.perf_counter()
                items = http.get(f"{self.hub.url}/v1/spokes").json()["items"]
                self.lists[self.phase].append(time.perf_counter() - started)
                self.not_ready += [s["name"] for s in items if s["health"] != "Ready"]
                self.stop.wait(0.1)

    def memory(self) -> None:
        process = psutil.Process(self.hub.pid)
        while not self.stop.is_set():
            self.rss[self.phase] = max(self.rss[self.phase], process.memory_info().rss / 2**20)
            self.stop.wait(0.2)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pending", type=int, default=100_000)
    p.add_argument("--spokes", type=int, default=3)
    p.add_argument("--shapes", type=int, default=50)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--store", help="a PostgreSQL URL instead of a fresh SQLite file")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="kf-sched-") as tmp:
        hub = HubProcess(Path(tmp), store=args.store, extra_args=["--log-level", "warning"])
        hub.start()
        try:
            credentials = {}
            for i in range(args.spokes):
                name = f"spoke{i}"
                response = httpx2.post(
                    f"{hub.url}/v1/spokes/register",
                    json={"name": name, "capacity": CAPACITY, "executor": "process"},
                    headers={"Authorization": f"Bearer {hub.join_token(name)}"},
                )
                credentials[name] = response.json()["credential"]
            probe = Probe(hub, credentials)
            threads = [threading.Thread(target=probe.heartbeat, args=(n,)) for n in credentials]
            threads += [threading.Thread(target=probe.spoke_list)]
            threads += [threading.Thread(target=probe.memory)]
            for t in threads:
                t.start()
            started = time.monotonic()
            auth = {"Authorization": f"Bearer {hub.client_token}"}
            with httpx2.Client(timeout=300, headers=auth) as http:
                for first in range(0, args.pending, 1000):
                    items = [
                        {"idempotency_key": str(uuid.uuid4()), "spec": spec(i, args.shapes)}
                        for i in range(first, min(first + 1000, args.pending))
                    ]
                    response = http.post(f"{hub.url}/v1/workloads:batch", json={"items": items})
                    assert response.status_code == 201, response.text[:500]
            loaded = time.monotonic() - started
            probe.phase = "steady"
            time.sleep(args.seconds)
            probe.stop.set()
            for t in threads:
                t.join(60)
            metrics = httpx2.get(f"{hub.url}/metrics", headers=auth).text
            queued = next(
                (line for line in metrics.splitlines() if line.startswith("kindfleet_hub_queued")),
                "?",
            )
        finally:
            hub.stop()

    print(f"{args.pending} pending workloads that fit nowhere ({args.shapes} sizes), "
          f"{args.spokes} spokes heartbeating every second; loaded in {loaded:.1f}s "
          f"({args.pending / loaded:.0f}/s); {queued}")  # fmt: skip
    for phase in ("load", "steady"):
        print(f"[{phase}] {shown('heartbeat', probe.beats[phase])}")
        print(f"[{phase}] {shown('GET /v1/spokes', probe.lists[phase])}")
        print(f"[{phase}] hub RSS max {probe.rss[phase]:.0f} MiB")
    print(f"spokes ever reported not Ready: {sorted(set(probe.not_ready)) or 'none'}")
    return 1 if probe.not_ready else 0


if __name__ == "__main__":
    sys.exit(main())
