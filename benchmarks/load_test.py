"""The article's load test on the embedded runtime: N runs of `/bin/true` across S spokes.

    .venv/bin/python benchmarks/load_test.py                    # 2,000 runs, 5 spokes
    .venv/bin/python benchmarks/load_test.py --requests 10000   # the article's figure

First measures, in the same run, the machine's bare spawn rate (S loops spawning
`/bin/true` from Python, `agent_throughput.bare`), the ceiling issue 17 states its target
against (>= 0.5 of it, >= 1,000 finished/s, e2e p99 < 5 s, 0 lost, 0 run twice). Then
brings up a local fleet (the hub and S agents as real processes, as `kindfleet up` does)
and runs `kindfleet load` against it (`Fleet.load`, the command's own code): submit
throughput and latency, submit-to-start and end-to-end latency, the spread over spokes,
lost and duplicated (both must be 0), and the memory of the hub and the agents; last, the
ratio of finished/s to the bare rate. The default is 2,000 runs so that a run takes a
minute on a shared 2-core machine; `--requests 10000` is the article's load. Figures, not
assertions. Against a fleet that is already up, use the command itself:
`kindfleet load -f fleet.yaml --requests 10000 --spokes 5`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from agent_throughput import bare, run_dirs
from prometheus_client.parser import text_string_to_metric_families

from kindfleet.fleet import Fleet
from kindfleet.fleetspec import from_text
from kindfleet.load import LoadOptions
from kindfleet.platform.wire import WorkloadSpec
from kindfleet.providers.local import LocalProvider


def fleet_text(spokes: int) -> str:
    lines = ["apiVersion: kindfleet.dev/v1alpha1", "kind: Fleet", "name: load",
             "provider: local", "spokes:"]  # fmt: skip
    for i in range(1, spokes + 1):
        lines += [f"  - name: load-spoke{i}", f"    labels: {{pool: cpu, spoke: s{i}}}",
                  "    capacity: {cpu: 16, memory: 16Gi}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def hub_work(metrics: str, workloads: int) -> str:
    """What the hub did per workload: HTTP requests by route, store transactions (groups)
    and the jobs in them, read from its own /metrics."""
    routes: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == "kindfleet_hub_http_requests_total":
                route = f"{sample.labels['method']} {sample.labels['route']}"
                routes[route] = routes.get(route, 0) + sample.value
            elif sample.name.endswith(("_sum", "_count")):
                where = f"{sample.labels.get('method', '')} {sample.labels.get('route', '')}"
                seconds[sample.name + where.rstrip()] = sample.value
    groups = seconds.get("kindfleet_hub_store_group_jobs_count", 0)
    jobs = seconds.get("kindfleet_hub_store_group_jobs_sum", 0)
    busy = seconds.get("kindfleet_hub_store_group_seconds_sum", 0)
    lines = [
        f"hub, per workload: {groups / workloads:.2f} transactions of "
        f"{busy / max(groups, 1) * 1000:.1f} ms, {jobs / workloads:.2f} jobs; "
        f"requests per workload and their mean time in the hub:"
    ]
    for route, count in sorted(routes.items(), key=lambda kv: -kv[1]):
        base = "kindfleet_hub_http_request_seconds"
        mean = seconds.get(f"{base}_sum{route}", 0) / max(count, 1) * 1000
        lines.append(f"  {count / workloads:6.2f} {route}  ({mean:.1f} ms)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2_000, help="10000: the article's")
    parser.add_argument("--spokes", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument("--command", default="/bin/true", help="what each workload runs")
    parser.add_argument("--bare-per-loop", type=int, default=400)
    parser.add_argument(
        "--state-root",
        default=None,
        help="where the fleet's state goes (default: the temp dir): the hub's store and the "
        "agents' state, where each run makes a directory and two files, so a slow file system "
        "shows in the keepers' CPU; on tmpfs the hub's fsyncs cost nothing either",
    )
    args = parser.parse_args()

    bare_rate, bare_cpu, _ = bare(args.spokes, args.bare_per_loop)
    print(
        f"bare: {args.spokes} loops spawn /bin/true at {bare_rate:.0f}/s ({bare_cpu:.2f} ms CPU each)"
    )

    root = Path(tempfile.mkdtemp(prefix="kindfleet-load-", dir=args.state_root))
    print(f"a run's directory under {root}: {run_dirs(root):.2f} ms of kernel CPU")
    spec = from_text(fleet_text(args.spokes), source="load fleet")
    fleet = Fleet(spec, provider=LocalProvider(root), state_dir=root)
    t0 = time.perf_counter()
    fleet.up(preflight=False, parallel=args.spokes)
    print(f"fleet up: hub + {args.spokes} spokes in {time.perf_counter() - t0:.1f}s")
    try:
        work = WorkloadSpec.model_validate(
            {
                "name": "load",
                "command": [args.command],
                "resources": {"cpu": "100m", "memory": "16Mi"},
            }
        )
        options = LoadOptions(
            requests=args.requests, concurrency=args.concurrency, timeout=args.timeout, spec=work
        )
        result = fleet.load(options, report=args.report)
        summary = result.summary()
        print(json.dumps(summary, indent=2))
        finished = summary["finished_per_second"]
        with fleet.hub() as hub:
            print(hub_work(hub.metrics(), args.requests))
        print(
            f"finished {finished:.0f}/s = {finished / bare_rate:.2f} of the bare spawn rate "
            f"({bare_rate:.0f}/s); e2e p99 {summary['end_to_end_s'].get('p99', 0):.2f} s; "
            f"lost {result.lost}, duplicated {result.duplicated}"
        )
    finally:
        t0 = time.perf_counter()
        fleet.down()
        print(f"fleet down: {time.perf_counter() - t0:.1f}s ({args.requests} runs' directories)")
        shutil.rmtree(root, ignore_errors=True)
    sys.exit(0 if not (result.lost or result.duplicated) else 1)


if __name__ == "__main__":
    main()
