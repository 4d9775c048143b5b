"""The article's load test on the embedded runtime: N workloads across S spokes.

    .venv/bin/python benchmarks/load_test.py --requests=10000 --spokes=5

Brings up a local fleet (the hub and S agents as real processes, as `kindfleet up` does),
submits N small workloads over HTTP with C concurrent clients, waits until every accepted
workload is finished, and prints: submission throughput and latency, completion
throughput, end-to-end latency (submitted -> finished, from the hub's own records), how
work spread over the spokes, lost workloads (must be 0), and the peak resident memory of
the hub and of the agents. Figures, not assertions: targets live in the README.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kindfleet.fleet import Fleet
from kindfleet.fleetspec import from_text
from kindfleet.platform.client import HubClient
from kindfleet.platform.wire import WorkloadSpec
from kindfleet.providers.local import LocalProvider, processes


def fleet_text(spokes: int) -> str:
    lines = [
        "apiVersion: kindfleet.dev/v1alpha1",
        "kind: Fleet",
        "name: load",
        "provider: local",
        "spokes:",
    ]
    for i in range(1, spokes + 1):
        lines += [
            f"  - name: load-spoke{i}",
            "    labels: {pool: cpu}",
            "    capacity: {cpu: 16, memory: 16Gi}",
        ]
    return "\n".join(lines) + "\n"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class MemoryWatch(threading.Thread):
    """Peak RSS per process (hub, each agent) sampled while the test runs."""

    def __init__(self, pidfiles: dict[str, Path]) -> None:
        super().__init__(daemon=True)
        self.pidfiles = pidfiles
        self.peak: dict[str, int] = dict.fromkeys(pidfiles, 0)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for name, pidfile in self.pidfiles.items():
                handle = processes.running(pidfile)
                rss = processes.rss_bytes(handle) if handle else None
                if rss:
                    self.peak[name] = max(self.peak[name], rss)
            time.sleep(0.25)


def states_from_metrics(text: str) -> dict[str, float]:
    """Workloads by state from the hub's Prometheus gauge: cheap enough to poll."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("kindfleet_hub_workloads{"):
            state = line.split('state="', 1)[1].split('"', 1)[0]
            out[state] = float(line.rsplit(" ", 1)[1])
    return out


def own_rss(handle: processes.Handle) -> int:
    """The process alone, not its runs (a spoke's runs are the work, not the agent)."""
    import psutil

    return int(psutil.Process(handle.pid).memory_info().rss)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--spokes", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="kindfleet-load-"))
    spec = from_text(fleet_text(args.spokes), source="load fleet")
    provider = LocalProvider(root)
    fleet = Fleet(spec, provider=provider)
    t0 = time.perf_counter()
    fleet.up(preflight=False, parallel=args.spokes)
    print(f"fleet up: hub + {args.spokes} spokes in {time.perf_counter() - t0:.1f}s")
    layout = provider.layout(spec)
    url = layout.hub_url(spec.hub.name)
    assert url
    token = layout.read_client_token()
    pidfiles = {c.name: layout.pidfile(c.name) for c in spec.clusters}
    watch = MemoryWatch(pidfiles)
    watch.start()
    agent_own: dict[str, int] = {}

    work = WorkloadSpec(
        name="tick", command=["/bin/true"], resources={"cpu": "100m", "memory": "16Mi"}
    )
    latencies: list[float] = []
    accepted: list[str] = []
    errors = Counter[str]()
    lock = threading.Lock()
    clients = threading.local()

    def submit(i: int) -> None:
        hub = getattr(clients, "hub", None)
        if hub is None:
            hub = clients.hub = HubClient(url, token, timeout=30)
        started = time.perf_counter()
        try:
            response = hub.submit(work, idempotency_key=f"load-{i}")
        except Exception as exc:
            with lock:
                errors[type(exc).__name__] += 1
            return
        with lock:
            latencies.append(time.perf_counter() - started)
            accepted.append(response.workload.id)

    try:
        t_submit = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(submit, range(args.requests)))
        submit_seconds = time.perf_counter() - t_submit
        print(
            f"submitted {len(accepted)}/{args.requests} in {submit_seconds:.1f}s: "
            f"{len(accepted) / submit_seconds:,.0f}/s, p50 {pct(latencies, 0.5) * 1e3:.1f} ms, "
            f"p99 {pct(latencies, 0.99) * 1e3:.1f} ms, errors {dict(errors) or 0}"
        )

        with HubClient(url, token, timeout=60) as hub:
            deadline = time.monotonic() + args.timeout
            while True:
                for name, pidfile in pidfiles.items():
                    handle = processes.running(pidfile)
                    if handle and name != spec.hub.name:
                        agent_own[name] = max(agent_own.get(name, 0), own_rss(handle))
                counts = states_from_metrics(hub.metrics())
                finished = sum(
                    counts.get(s, 0) for s in ("Succeeded", "Failed", "Cancelled", "Expired")
                )
                if finished >= len(accepted) or time.monotonic() > deadline:
                    break
                time.sleep(1.0)
            all_done = time.perf_counter() - t_submit
            workloads = list(hub.iter_workloads(limit=1000))
        ours = [w for w in workloads if w.id in set(accepted)]
        by_state = Counter(w.state.value for w in ours)
        e2e = [
            (w.attempts[-1].finished_at - w.submitted_at).total_seconds()
            for w in ours
            if w.attempts and w.attempts[-1].finished_at
        ]
        spread = Counter(w.spoke for w in ours)
        lost = len(accepted) - by_state["Succeeded"]
        print(
            f"finished {by_state['Succeeded']} in {all_done:.1f}s from the first submission: "
            f"{by_state['Succeeded'] / all_done:,.0f} workloads/s end to end"
        )
        print(
            f"end-to-end latency (submitted -> finished): p50 {pct(e2e, 0.5):.2f}s, "
            f"p99 {pct(e2e, 0.99):.2f}s, mean {statistics.fmean(e2e) if e2e else float('nan'):.2f}s"
        )
        print("per spoke: " + ", ".join(f"{s} {n}" for s, n in sorted(spread.items())))
        print(f"states: {dict(by_state)}; lost: {lost}")
    finally:
        watch.done.set()
        watch.join()
        hub_peak = watch.peak[spec.hub.name] / 2**20
        agents = {k: v / 2**20 for k, v in agent_own.items()}
        print(
            f"peak RSS: hub {hub_peak:.0f} MiB; agents (own process) "
            f"max {max(agents.values(), default=0):.0f} MiB, "
            f"mean {statistics.fmean(agents.values()) if agents else 0:.0f} MiB"
        )
        fleet.down()
    sys.exit(0)


if __name__ == "__main__":
    main()
