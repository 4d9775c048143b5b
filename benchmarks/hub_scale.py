"""The hub at scale: do list, get and submit hold when the store is deep and the fleet wide?

    .venv/bin/python benchmarks/hub_scale.py [--workloads 100000] [--spokes 50] [--rounds 2]

Starts a real hub process (SQLite, WAL, synchronous=FULL, as the local runtime does) and
measures `GET /v1/workloads?limit=100`, `GET /v1/workloads/{id}` and a durable
`POST /v1/workloads` (each with its own Idempotency-Key) with `--concurrency` keep-alive
connections, twice:

- small: a store holding one page of workloads (the list needs a full page to send the
  same bytes), no spoke;
- at scale: `--spokes` spokes joined with join tokens and heartbeating as the hub tells
  them (every 2 s by default) from threads of a process of their own (simulated agents:
  they never take their work, so what fits stays Assigned), and `--workloads` more
  workloads submitted in batches of 1,000 (100m cpu each: the spokes' slots fill, the rest
  is a deep Pending queue of one shape).

Prints each measurement, the ratio of the scale figures to the small ones (best round of
each), the hub's peak resident memory (psutil, sampled every 0.2 s) and the heartbeats'
latency. Targets (issue 17): every ratio >= 0.8 (within 20%), hub under 250 MB.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import threading
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

import httpx2
import psutil
from httpload import Figures, drive, pct
from hub_vs_bare import fill, requests

from kindfleet.platform.client import HubClient
from kindfleet.platform.hub.testing import HubProcess

CAPACITY = {"cpu_millis": 4000, "memory_bytes": 8 * 2**30, "gpus": 0}
PAGE = 100


def _beat(url: str, spoke: tuple[str, str, float], stop: Event, out: Queue) -> None:
    """One spoke (name, credential, heartbeat interval the hub told it at its join): a
    heartbeat per interval until `stop`; its latencies and failures to `out`."""
    name, credential, every = spoke
    beats: list[float] = []
    failures = 0
    with httpx2.Client(timeout=30) as http:
        while not stop.wait(every):
            started = time.perf_counter()
            response = http.post(
                f"{url}/v1/spokes/{name}/heartbeat",
                json={"capacity": CAPACITY},
                headers={"Authorization": f"Bearer {credential}"},
            )
            beats.append(time.perf_counter() - started)
            failures += response.status_code != 200
    out.put((beats, failures))


def _heartbeats(url: str, spokes: dict[str, tuple[str, float]], stop: Event, out: Queue) -> None:
    """Every spoke's heartbeats, from threads of a process of their own: their client-side
    work must not share a GIL with the load driver whose figures are compared."""
    threads = [
        threading.Thread(target=_beat, args=(url, (name, *spoke), stop, out))
        for name, spoke in spokes.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class Fleet:
    """Simulated spokes: joined, then a heartbeat each per second, timed; and the hub's RSS."""

    def __init__(self, hub: HubProcess) -> None:
        self.hub = hub
        self.stop = threading.Event()
        self.rss_peak = 0.0
        self._memory_thread = threading.Thread(target=self._memory, daemon=True)
        self._memory_thread.start()
        self._beating = multiprocessing.Event()
        self._results: Queue = multiprocessing.Queue()
        self._process: multiprocessing.Process | None = None
        self.spokes = 0
        self.every = 0.0

    def join(self, count: int) -> None:
        credentials = {}
        for i in range(count):
            name = f"spoke{i:02d}"
            response = httpx2.post(
                f"{self.hub.url}/v1/spokes/register",
                json={"name": name, "capacity": CAPACITY, "executor": "process"},
                headers={"Authorization": f"Bearer {self.hub.join_token(name)}"},
            )
            response.raise_for_status()
            joined = response.json()
            credentials[name] = (joined["credential"], joined["heartbeat_seconds"])
            self.every = joined["heartbeat_seconds"]
        self.spokes = count
        self._process = multiprocessing.Process(
            target=_heartbeats, args=(self.hub.url, credentials, self._beating, self._results)
        )
        self._process.start()

    def _memory(self) -> None:
        process = psutil.Process(self.hub.pid)
        while not self.stop.wait(0.2):
            self.rss_peak = max(self.rss_peak, process.memory_info().rss / 2**20)

    def close(self) -> tuple[list[float], int]:
        """Stop; every heartbeat's latency and how many failed."""
        self.stop.set()
        self._beating.set()
        beats: list[float] = []
        failures = 0
        for _ in range(self.spokes):
            some, failed = self._results.get(timeout=60)
            beats += some
            failures += failed
        if self._process is not None:
            self._process.join(30)
        self._memory_thread.join(5)
        return beats, failures


def measure(hub: HubProcess, phase: str, rounds: int, load: dict[str, float]) -> dict[str, float]:
    """Best req/s per case over `rounds`; every line printed as it is taken."""
    with HubClient(hub.url, hub.client_token) as client:
        first = client.list_workloads(limit=1).items[0].id
    cases = {
        f"list ?limit={PAGE}": ("GET", f"/v1/workloads?limit={PAGE}"),
        "get one": ("GET", f"/v1/workloads/{first}"),
        "submit one (durable)": ("POST", "/v1/workloads"),
    }
    best: dict[str, float] = {}
    for r in range(rounds):
        for name, (method, path) in cases.items():
            make = requests(method, path, f"{phase}{r}")
            figures: Figures = drive(
                f"{phase}: {name}", hub.pid, hub.port or 0, make, token=hub.client_token, **load
            )
            print(f"round {r + 1}  {figures.line()}", flush=True)
            if set(figures.statuses) - {200, 201}:
                raise SystemExit(f"the hub answered other than 2xx: {figures.statuses}")
            best[name] = max(best.get(name, 0.0), figures.rate)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workloads", type=int, default=100_000)
    ap.add_argument("--spokes", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    load = {"concurrency": args.concurrency, "seconds": args.seconds}

    with tempfile.TemporaryDirectory(prefix="kf-scale-") as tmp:
        hub = HubProcess(Path(tmp), extra_args=["--log-level", "warning"])
        hub.start()
        fleet = Fleet(hub)
        try:
            fill(hub, PAGE)
            small = measure(hub, "small", args.rounds, load)
            small_rss = fleet.rss_peak
            fleet.join(args.spokes)
            started = time.monotonic()
            fill(hub, args.workloads)
            loaded = time.monotonic() - started
            print(
                f"{args.spokes} spokes heartbeating every {fleet.every:g} s; "
                f"{args.workloads} workloads more "
                f"stored in {loaded:.0f} s ({args.workloads / loaded:.0f}/s)",
                flush=True,
            )
            scale = measure(hub, "scale", args.rounds, load)
        finally:
            beats, failures = fleet.close()
            hub.stop()

    for name, rate in small.items():
        ratio = scale[name] / rate
        verdict = "met" if ratio >= 0.8 else "not met"
        print(
            f"{name:<24} small {rate:7.0f} req/s  at scale {scale[name]:7.0f} req/s  "
            f"ratio {ratio:.2f} (target >= 0.8: {verdict})"
        )
    print(
        f"hub RSS peak: {small_rss:.0f} MiB small, {fleet.rss_peak:.0f} MiB at scale "
        f"(target < 250 MB: {'met' if fleet.rss_peak * 2**20 < 250e6 else 'not met'})"
    )
    print(
        f"heartbeats (from the spokes' join to the end): n={len(beats)} "
        f"p50 {pct(beats, 0.5) * 1000:.1f} ms p99 {pct(beats, 0.99) * 1000:.1f} ms; "
        f"failed: {failures}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
