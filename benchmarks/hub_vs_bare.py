"""Hub reads beside a bare endpoint serving the same bytes, measured in the same run.

    .venv/bin/python benchmarks/read_throughput.py [--workloads 2000] [--rounds 3] [--seconds 4]

Starts a real hub process (SQLite, as the local runtime does), stores `--workloads`
workloads through the API, and takes the body of `GET /v1/workloads?limit=100` and of
`GET /v1/workloads/{id}`. Starts the bare server (`bare_server.py`: uvicorn, uvloop,
httptools, one Starlette endpoint) serving those same bytes. Then, round after round,
drives each for `--seconds` with `--concurrency` keep-alive connections and prints
requests/s, the server's CPU per request (all its threads) and latency; and the ratio of
the hub to the bare server, per round, as a range. Targets (issue 17): list and get at
least 0.3 of bare. Interleaved rounds, because the machine is shared: the ratio of one
round compares two figures taken under the same load.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from httpload import BareServer, drive, ratio_line

from kindfleet.platform.client import HubClient
from kindfleet.platform.hub.testing import HubProcess


def spec(i: int) -> dict:
    return {
        "name": f"bench-{i % 1000}",
        "command": ["python", "-c", "print('hello')"],
        "resources": {"cpu": "100m", "memory": "64Mi"},
        "labels": {"team": "bench", "index": str(i % 10)},
        "env": {"MODE": "bench"},
    }


def fill(hub: HubProcess, n: int) -> None:
    with HubClient(hub.url, hub.client_token, timeout=120) as client:
        for start in range(0, n, 1000):
            client.submit_batch([spec(i) for i in range(start, min(n, start + 1000))])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workloads", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--limit", type=int, default=100, help="page size of the list")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="kf-read-") as tmp:
        hub = HubProcess(Path(tmp))
        hub.start()
        bare: dict[str, BareServer] = {}
        try:
            fill(hub, args.workloads)
            with HubClient(hub.url, hub.client_token) as client:
                page = client._get("/v1/workloads", [("limit", str(args.limit))]).content
                first = json.loads(page)["items"][0]["id"]
                one = client._get(f"/v1/workloads/{first}").content
            cases = {
                f"list ?limit={args.limit} ({len(page) / 1000:.0f} KB)": (f"/v1/workloads?limit={args.limit}", page),
                f"get one ({len(one) / 1000:.1f} KB)": (f"/v1/workloads/{first}", one),
            }
            for name, (_, body) in cases.items():
                bare[name] = BareServer(body).start()
            print(
                f"{args.workloads} workloads stored; {args.concurrency} connections, "
                f"{args.seconds:g} s per measurement, {args.rounds} rounds"
            )
            ratios: dict[str, list[float]] = {name: [] for name in cases}
            for r in range(args.rounds):
                for name, (path, _) in cases.items():
                    def make(i: int, path: str = path) -> tuple[str, str, bytes, bytes]:
                        return "GET", path, b"", b""

                    b = drive(f"bare: {name}", bare[name].pid, bare[name].port, make,
                              concurrency=args.concurrency, seconds=args.seconds)
                    h = drive(f"hub:  {name}", hub.pid, hub.port or 0, make, token=hub.client_token,
                              concurrency=args.concurrency, seconds=args.seconds)
                    print(f"round {r + 1}  {b.line()}\nround {r + 1}  {h.line()}")
                    if set(h.statuses) != {200}:
                        print("the hub answered other than 200", file=sys.stderr)
                        return 1
                    ratios[name].append(h.rate / b.rate)
            for name, values in ratios.items():
                print(ratio_line(name, values, 0.3))
        finally:
            for server in bare.values():
                server.stop()
            hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
