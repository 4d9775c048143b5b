"""How near target 3 (submit >= 0.4 of bare) one hub process can come: the hub as it is,
and the same hub with the store taken out of submissions, each beside the bare endpoint.

The storeless hub is the hub's own code with one change made here, not in the hub:
`HubService._submit_one` checks and prepares every submission as the hub does (key,
spec, canonical JSON, hashes, id) and then answers the first stored workload's record
instead of handing the submission to the writer thread. What it reaches is the most the
event loop's side of a submission allows in one process, with no SQLite, no commit and no
writer thread contending for the GIL: if that is below 0.4, no work on the store can
meet the target, and the HTTP side would have to leave the process.

    .venv/bin/python benchmarks/submit_ceiling.py --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import runpy
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx2
from httpload import BareServer, drive, ratio_line
from hub_vs_bare import BODY, fill, requests

from kindfleet.platform.client import HubClient
from kindfleet.platform.hub.testing import HubProcess

STORELESS = "--storeless-hub"
FILLED = 100


class StorelessHub(HubProcess):
    """The hub started through this file, which patches it before it runs."""

    def argv(self) -> list[str]:
        argv = super().argv()
        module = argv.index("kindfleet.platform.hub")
        return [sys.executable, __file__, STORELESS, *argv[module + 1 :]]


def storeless_hub(args: list[str]) -> None:
    from kindfleet.platform.hub.service import hub_service
    from kindfleet.platform.hub.service.submit import prepare

    real = hub_service.HubService._submit_one
    first: dict[str, Any] = {}

    async def submit_one(self: Any, key: str | None, spec: Any) -> Any:
        prepare(key, spec, self.clock())  # every check and hash the hub makes, then no store
        if "answer" not in first:  # one stored submission, however many come at once
            first["answer"] = asyncio.ensure_future(real(self, key, spec))
        answer = await asyncio.shield(first["answer"])
        self._count([answer])
        return answer

    hub_service.HubService._submit_one = submit_one  # type: ignore[method-assign]
    sys.argv = ["kindfleet.platform.hub", *args]
    runpy.run_module("kindfleet.platform.hub", run_name="__main__", alter_sys=True)


def submitted(hub: HubProcess) -> bytes:
    """The hub's answer to one submission: what the bare endpoint answers with."""
    headers = {"Authorization": f"Bearer {hub.client_token}", "Idempotency-Key": "sample"}
    headers["Content-Type"] = "application/json"
    return httpx2.post(f"{hub.url}/v1/workloads", content=BODY, headers=headers).content


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    load = {"concurrency": args.concurrency, "seconds": args.seconds}
    with tempfile.TemporaryDirectory(prefix="kf-ceiling-") as tmp:
        hubs = {"hub": HubProcess(Path(tmp) / "hub"), "storeless": StorelessHub(Path(tmp) / "sl")}
        bare: BareServer | None = None
        try:
            for hub in hubs.values():
                hub.start()
                fill(hub, FILLED)
            bare = BareServer(submitted(hubs["hub"])).start()
            ratios: dict[str, list[float]] = {name: [] for name in hubs}
            for r in range(args.rounds):
                make = requests("POST", "/v1/workloads", f"r{r}")
                b = drive("bare: submit one", bare.pid, bare.port, make, **load)
                print(f"round {r + 1}  {b.line()}", flush=True)
                for name, hub in hubs.items():
                    h = drive(f"{name}: submit one", hub.pid, hub.port or 0, make,
                              token=hub.client_token, **load)  # fmt: skip
                    print(f"round {r + 1}  {h.line()}", flush=True)
                    if set(h.statuses) - {200, 201}:
                        print(f"{name} answered other than 2xx", file=sys.stderr)
                        return 1
                    ratios[name].append(h.rate / b.rate)
            for name, values in ratios.items():
                print(ratio_line(f"submit, {name}", values, 0.4))
            with HubClient(hubs["storeless"].url, hubs["storeless"].client_token) as client:
                kept = sum(1 for _ in client.iter_workloads(limit=1000))
            print(f"the storeless hub stored {kept - FILLED} of the submissions it answered")
            if kept != FILLED + 1:  # the first, whose record it answers with: the patch held
                print("the storeless hub stored its submissions: the patch missed", file=sys.stderr)
                return 1
        finally:
            if bare is not None:
                bare.stop()
            for hub in hubs.values():
                if hub.proc is not None:
                    hub.stop()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == [STORELESS]:
        storeless_hub(sys.argv[2:])
    else:
        sys.exit(main())
