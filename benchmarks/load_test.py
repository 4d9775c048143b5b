"""The article's load test on the embedded runtime: N workloads across S spokes.

    .venv/bin/python benchmarks/load_test.py --requests=10000 --spokes=5 [--report DIR]

Brings up a local fleet (the hub and S agents as real processes, as `kindfleet up` does)
and runs `kindfleet load` against it (`Fleet.load`, the command's own code): submit
throughput and latency, submit-to-start and end-to-end latency, the spread over spokes,
lost and duplicated (both must be 0), and the memory of the hub and the agents. Figures,
not assertions: targets live in the README. Against a fleet that is already up, use the
command itself: `kindfleet load -f fleet.yaml --requests 10000 --spokes 5`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from kindfleet.fleet import Fleet
from kindfleet.fleetspec import from_text
from kindfleet.load import LoadOptions
from kindfleet.providers.local import LocalProvider


def fleet_text(spokes: int) -> str:
    lines = ["apiVersion: kindfleet.dev/v1alpha1", "kind: Fleet", "name: load",
             "provider: local", "spokes:"]  # fmt: skip
    for i in range(1, spokes + 1):
        lines += [f"  - name: load-spoke{i}", f"    labels: {{pool: cpu, spoke: s{i}}}",
                  "    capacity: {cpu: 16, memory: 16Gi}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--spokes", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="kindfleet-load-"))
    spec = from_text(fleet_text(args.spokes), source="load fleet")
    fleet = Fleet(spec, provider=LocalProvider(root), state_dir=root)
    t0 = time.perf_counter()
    fleet.up(preflight=False, parallel=args.spokes)
    print(f"fleet up: hub + {args.spokes} spokes in {time.perf_counter() - t0:.1f}s")
    try:
        options = LoadOptions(
            requests=args.requests, concurrency=args.concurrency, timeout=args.timeout
        )
        result = fleet.load(options, report=args.report)
        print(json.dumps(result.summary(), indent=2))
    finally:
        fleet.down()
    sys.exit(0 if not (result.lost or result.duplicated) else 1)


if __name__ == "__main__":
    main()
