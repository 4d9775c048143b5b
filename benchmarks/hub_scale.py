"""The hub at scale: do list, get and submit hold when the store is deep and the fleet wide?

    .venv/bin/python benchmarks/hub_scale.py [--workloads 100000] [--spokes 50] [--rounds 2]

Starts two real hub processes (SQLite, WAL, synchronous=FULL, as the local runtime does)
and measures `GET /v1/workloads?limit=100`, `GET /v1/workloads/{id}` and a durable
`POST /v1/workloads` (each with its own Idempotency-Key) with `--concurrency` keep-alive
connections on each:

- small: a store holding one page of workloads (the list needs a full page to send the
  same bytes), no spoke;
- at scale: `--spokes` spokes joined with join tokens and heartbeating as the hub tells
  them (every 2 s by default) from threads of a process of their own (simulated agents:
  they never take their work, so what fits stays Assigned), and `--workloads` more
  workloads submitted in batches of 1,000 (100m cpu each: the spokes' slots fill, the rest
  is a deep Pending queue of one shape).

Each round measures a case on the small hub, then at once on the one at scale, so that
both figures of a ratio see the same minute of a shared machine (measured one phase after
the other, the machine's drift between phases moved the submit ratio from 0.67 to 1.44 on
the same code). Prints each measurement, each round's ratio and their median (the figure
compared with the target), the hubs' peak resident memory (psutil, sampled every 0.2 s)
and the heartbeats' latency. Targets (issue 17): every ratio >= 0.8 (within 20%), the hub
at scale under 250 MB.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
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


class Memory:
    """A hub's peak resident memory, sampled every 0.2 s from a thread."""

    def __init__(self, hub: HubProcess) -> None:
        self.hub = hub
        self.stop = threading.Event()
        self.rss_peak = 0.0
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        process = psutil.Process(self.hub.pid)
        while not self.stop.wait(0.2):
            self.rss_peak = max(self.rss_peak, process.memory_info().rss / 2**20)

    def close(self) -> float:
        self.stop.set()
        self._thread.join(5)
        return self.rss_peak


class Fleet:
    """Simulated spokes: joined, then a heartbeat each per interval, timed."""

    def __init__(self, hub: HubProcess) -> None:
        self.hub = hub
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

    def close(self) -> tuple[list[float], int]:
        """Stop; every heartbeat's latency and how many failed."""
        self._beating.set()
        beats: list[float] = []
        failures = 0
        for _ in range(self.spokes):
            some, failed = self._results.get(timeout=60)
            beats += some
            failures += failed
        if self._process is not None:
            self._process.join(30)
        return beats, failures


def cases(hub: HubProcess) -> dict[str, tuple[str, str]]:
    with HubClient(hub.url, hub.client_token) as client:
        first = client.list_workloads(limit=1).items[0].id
    return {
        f"list ?limit={PAGE}": ("GET", f"/v1/workloads?limit={PAGE}"),
        "get one": ("GET", f"/v1/workloads/{first}"),
        "submit one (durable)": ("POST", "/v1/workloads"),
    }


def one(
    hub: HubProcess, label: str, case: tuple[str, str], key: str, load: dict[str, float]
) -> float:
    """req/s of one case on one hub; the line printed as it is taken."""
    method, path = case
    figures: Figures = drive(
        label, hub.pid, hub.port or 0, requests(method, path, key), token=hub.client_token, **load
    )
    print(figures.line(), flush=True)
    if set(figures.statuses) - {200, 201}:
        raise SystemExit(f"the hub answered other than 2xx: {figures.statuses}")
    return figures.rate


def measure(
    small: HubProcess, scale: HubProcess, rounds: int, load: dict[str, float]
) -> dict[str, list[tuple[float, float]]]:
    """Per case, (small, at scale) req/s of each round, taken one right after the other."""
    small_cases, scale_cases = cases(small), cases(scale)
    pairs: dict[str, list[tuple[float, float]]] = {name: [] for name in small_cases}
    for r in range(rounds):
        print(f"round {r + 1}", flush=True)
        for name in small_cases:
            pair = (
                one(small, f"small: {name}", small_cases[name], f"small{r}", load),
                one(scale, f"scale: {name}", scale_cases[name], f"scale{r}", load),
            )
            pairs[name].append(pair)
    return pairs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workloads", type=int, default=100_000)
    ap.add_argument("--spokes", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3, help="the ratio is their median")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    load = {"concurrency": args.concurrency, "seconds": args.seconds}

    with tempfile.TemporaryDirectory(prefix="kf-scale-") as tmp:
        small = HubProcess(Path(tmp) / "small", extra_args=["--log-level", "warning"])
        scale = HubProcess(Path(tmp) / "scale", extra_args=["--log-level", "warning"])
        small.start()
        scale.start()
        memory = {"small": Memory(small), "scale": Memory(scale)}
        fleet = Fleet(scale)
        try:
            fill(small, PAGE)
            fill(scale, PAGE)
            fleet.join(args.spokes)
            started = time.monotonic()
            fill(scale, args.workloads)
            loaded = time.monotonic() - started
            print(
                f"at scale: {args.spokes} spokes heartbeating every {fleet.every:g} s; "
                f"{args.workloads} workloads more "
                f"stored in {loaded:.0f} s ({args.workloads / loaded:.0f}/s)",
                flush=True,
            )
            pairs = measure(small, scale, args.rounds, load)
        finally:
            beats, failures = fleet.close()
            peaks = {phase: m.close() for phase, m in memory.items()}
            small.stop()
            scale.stop()

    for name, rounds in pairs.items():
        ratios = sorted(at_scale / rate for rate, at_scale in rounds)
        ratio = statistics.median(ratios)
        verdict = "met" if ratio >= 0.8 else "not met"
        print(
            f"{name:<24} small {statistics.median(r for r, _ in rounds):7.0f} req/s  "
            f"at scale {statistics.median(s for _, s in rounds):7.0f} req/s  "
            f"ratio {ratio:.2f} (rounds {ratios[0]:.2f}-{ratios[-1]:.2f}; target >= 0.8: "
            f"{verdict})"
        )
    print(
        f"hub RSS peak: {peaks['small']:.0f} MiB small, {peaks['scale']:.0f} MiB at scale "
        f"(target < 250 MB: {'met' if peaks['scale'] * 2**20 < 250e6 else 'not met'})"
    )
    print(
        f"heartbeats (from the spokes' join to the end): n={len(beats)} "
        f"p50 {pct(beats, 0.5) * 1000:.1f} ms p99 {pct(beats, 0.99) * 1000:.1f} ms; "
        f"failed: {failures}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
