"""The hub's hot paths beside a bare endpoint serving the same bytes, in the same run.

    .venv/bin/python benchmarks/hub_vs_bare.py [--workloads 2000] [--rounds 3] [--seconds 4]

Starts a real hub process (SQLite, WAL, synchronous=FULL, as the local runtime does),
stores `--workloads` workloads through the API, and takes the hub's own answers to
`GET /v1/workloads?limit=100`, `GET /v1/workloads/{id}` and `POST /v1/workloads`. Starts
one bare server per case (`bare_server.py`: uvicorn, uvloop, httptools, one Starlette
endpoint) answering those same bytes; for the submission it also parses the body as a
`WorkloadSpec`, strictly, as the hub does. Then, round after round, drives each for
`--seconds` with `--concurrency` keep-alive connections and prints requests/s, the
server's CPU per request (all its threads) and latency p50/p99; and the ratio of the hub
to the bare server, per round, as a range. Every submission has its own Idempotency-Key
and is a durable commit (the 2xx means it is on disk).

Last, `--sustain` seconds of submissions back to back, in windows of `--seconds`: rate,
CPU per request, the size of the hub's WAL file after each window and what the hub wrote
per submission (a new workload's index entries on random pages cost a page each). A hub that slows
as it keeps taking work, or whose WAL grows while writes last, shows here and nowhere
else (each round above is too short, and the WAL starts over in the reads between).

Targets (issue 17): list and get >= 0.3 of bare; submit >= 0.4 of bare and p99 < 20 ms
at 32 connections. Interleaved rounds, because the machine is shared: the ratio of one
round compares two figures taken under the same load.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import httpx2
from httpload import BareServer, Request, drive, ratio_line

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


BODY = json.dumps(spec(1)).encode()


def requests(method: str, path: str, tag: str) -> Request:
    """The driver's requests: GETs of `path`, or submissions each with a key of its own."""
    if method == "GET":
        return lambda i: ("GET", path, b"", b"")
    return lambda i: ("POST", path, BODY, f"Idempotency-Key: {tag}-{i}\r\n".encode())


def sustain(hub: HubProcess, home: Path, load: dict, seconds: float) -> None:
    """Submissions back to back, window after window: does the hub keep its pace?"""
    wal = home / "hub.db-wal"
    windows = max(1, round(seconds / load["seconds"]))
    for w in range(windows):
        make = requests("POST", "/v1/workloads", f"s{w}")
        before = written(hub.pid)
        f = drive(
            f"hub:  sustained {w + 1}/{windows}",
            hub.pid,
            hub.port or 0,
            make,
            token=hub.client_token,
            **load,
        )
        size = wal.stat().st_size / 1e6 if wal.exists() else 0.0
        each = (written(hub.pid) - before) / max(1, f.requests) / 1024
        print(f"{f.line()}  WAL {size:.0f} MB, {each:.1f} KiB written each", flush=True)


def written(pid: int) -> int:
    """Bytes the process has written (`wchar`: WAL frames and checkpoints, logs)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workloads", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--limit", type=int, default=100, help="page size of the list")
    ap.add_argument("--sustain", type=float, default=20.0, help="seconds of submissions at the end")
    args = ap.parse_args()
    load = {"concurrency": args.concurrency, "seconds": args.seconds}

    with tempfile.TemporaryDirectory(prefix="kf-read-") as tmp:
        hub = HubProcess(Path(tmp))
        hub.start()
        bare: dict[str, BareServer] = {}
        try:
            token = hub.client_token
            fill(hub, args.workloads)
            with HubClient(hub.url, hub.client_token) as client:
                page = client._get("/v1/workloads", [("limit", str(args.limit))]).content
                first = json.loads(page)["items"][0]["id"]
                one = client._get(f"/v1/workloads/{first}").content
            submitted = httpx2.post(
                f"{hub.url}/v1/workloads",
                content=BODY,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Idempotency-Key": "bench-sample",
                    "Content-Type": "application/json",
                },
            ).content
            cases = {
                f"list ?limit={args.limit} ({len(page) / 1000:.0f} KB)": (
                    "GET",
                    f"/v1/workloads?limit={args.limit}",
                    page,
                ),
                f"get one ({len(one) / 1000:.1f} KB)": ("GET", f"/v1/workloads/{first}", one),
                "submit one (durable)": ("POST", "/v1/workloads", submitted),
            }
            for name, (_, _, body) in cases.items():
                bare[name] = BareServer(body).start()
            print(
                f"{args.workloads} workloads stored; {args.concurrency} connections, "
                f"{args.seconds:g} s per measurement, {args.rounds} rounds"
            )
            ratios: dict[str, list[float]] = {name: [] for name in cases}
            for r in range(args.rounds):
                for name, (method, path, _) in cases.items():
                    make = requests(method, path, f"r{r}")
                    b = drive(f"bare: {name}", bare[name].pid, bare[name].port, make, **load)
                    h = drive(f"hub:  {name}", hub.pid, hub.port or 0, make, token=token, **load)
                    print(f"round {r + 1}  {b.line()}\nround {r + 1}  {h.line()}", flush=True)
                    if set(h.statuses) - {200, 201}:
                        print("the hub answered other than 2xx", file=sys.stderr)
                        return 1
                    ratios[name].append(h.rate / b.rate)
            for name, values in ratios.items():
                print(ratio_line(name, values, 0.4 if name.startswith("submit") else 0.3))
            sustain(hub, Path(tmp), load, args.sustain)
        finally:
            for server in bare.values():
                server.stop()
            hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
