"""How fast spoke agents turn assignments into finished runs, against the bare spawn rate of
the same machine, measured in the same run.

    .venv/bin/python benchmarks/agent_throughput.py [--runs 10000] [--spokes 5] [--window 160]

1. Bare: `--spokes` loops (separate processes) each spawn `/bin/true` from Python
   (subprocess.run) and wait for it, as fast as they can: the machine's spawn rate.
2. Agents: `--spokes` real agents (`python -m kindfleet.platform.agent`, as the local
   runtime starts them) against a minimal hub in this process: it hands each spoke up to
   `--window` assignments of `/bin/true` at a time (the load test's 160 slots per spoke),
   takes their reports and acknowledges them, and does nothing else, so the figure is the
   agents' (the real hub's cost is the hub's benchmark). Every safety property stays on:
   each run goes through the launcher and a keeper, every report is committed (WAL,
   synchronous=FULL) before it is sent. The minimal hub hands out nothing until every agent
   has asked for work, and the clock and the CPU counters start then: a spoke's start-up
   (imports, its database, registration: ~0.4 s of CPU each) happens once per fleet, not
   per run, and is printed apart. The launcher's start and the keepers' forks, which the
   first runs pay, are in the figures.

Prints runs/s (all agents, and per agent), the ratio to the bare rate, latency from an
assignment handed out to its terminal report received, and CPU per run: the agent
process, its launcher and keepers (with the runs themselves), and the fake hub. Figures,
not assertions; run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from kindfleet.platform.agent import paths

BARE_LOOP = """
import subprocess, sys, time
n = int(sys.argv[1])
t = time.perf_counter()
for _ in range(n):
    subprocess.run(["/bin/true"])
print(time.perf_counter() - t)
"""
SPEC = {"name": "tick", "command": ["/bin/true"], "resources": {"cpu": "100m", "memory": "16Mi"}}


def machine() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the whole machine so far (/proc/stat): what every
    process spent, those that came and went unseen included (keepers, runs before exec)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    user, nice, system, idle, iowait, irq, softirq = fields
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, (idle + iowait) / tick


def bare(loops: int, per_loop: int) -> tuple[float, float, float]:
    """(spawns/s over all loops, CPU ms per spawn incl. the spawned process, the machine's
    CPU ms per spawn)."""
    before = os.times()
    busy0, _ = machine()
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen([sys.executable, "-c", BARE_LOOP, str(per_loop)], stdout=subprocess.PIPE)
        for _ in range(loops)
    ]
    for proc in procs:
        proc.communicate()
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    total = loops * per_loop
    return total / wall, cpu / total * 1e3, (machine()[0] - busy0) / total * 1e3


def run_dirs(root: Path, count: int = 300) -> float:
    """Kernel CPU (ms) per run directory made under `root` as a keeper makes one (the
    directory, `outputs/`, `stdout.log`, `stderr.log`), left in place as the agent leaves
    its runs'. On some file systems this, not the platform, is much of a short run's cost
    (this machine's ext4, which has no journal, scans inodes freed in the last seconds on
    every allocation: 1.5-3.3 ms here, 0.02 ms on tmpfs)."""
    where = Path(tempfile.mkdtemp(prefix="run-dirs-", dir=root))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    before = os.times().system
    for i in range(count):
        run = where / f"wl-{i}-g1"
        run.mkdir(0o700)
        (run / paths.OUTPUTS).mkdir(0o700)
        for name in (paths.STDOUT, paths.STDERR):
            os.close(os.open(run / name, flags, 0o600))
    return (os.times().system - before) / count * 1e3


# ---------------------------------------------------------------------------- a minimal hub


@dataclass
class Spoke:
    name: str
    todo: int
    window: int
    in_flight: int = 0
    done: int = 0
    next_id: int = 0
    high_seq: int = 0
    handed: dict[str, float] = field(default_factory=dict)  # workload -> when handed out
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class FakeHub:
    def __init__(self, spokes: dict[str, Spoke]) -> None:
        self.spokes = spokes
        self.latencies: list[float] = []
        self.finished = asyncio.Event()
        self.first: float | None = None
        self.last = 0.0
        self.failed = 0
        self.requests: dict[str, int] = {}
        self.started: set[str] = set()
        self.twice = 0  # a workload started (or ended) more than once
        self.ended: set[str] = set()
        self.reasons: dict[str, int] = {}
        self.polled: set[str] = set()
        self.ready = asyncio.Event()  # every agent up and asking for work: the clock starts

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                size = int(headers.get("content-length", headers.get("Content-Length", "0")))
                body = await reader.readexactly(size) if size else b""
                answer = await self.route(method, target, body)
                data = json.dumps(answer).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                    + str(len(data)).encode()
                    + b"\r\n\r\n"
                    + data
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    async def route(self, method: str, target: str, body: bytes) -> object:
        path, _, query = target.partition("?")
        parts = path.strip("/").split("/")  # v1 spokes <name> <what>
        self.requests[parts[-1]] = self.requests.get(parts[-1], 0) + 1
        if parts[-1] == "register":
            name = json.loads(body)["name"]
            return {
                "spoke": name,
                "credential": f"cred-{name}",
                "heartbeat_seconds": 2.0,
                "lease_seconds": 6.0,
                "lost_after_seconds": 30.0,
            }
        spoke = self.spokes[parts[2]]
        if parts[3] == "heartbeat":
            return {"health": "Ready", "stop": [], "heartbeat_seconds": 2.0}
        if parts[3] == "assignments":
            wait = float(query.partition("wait=")[2] or 0)
            return {"items": await self.assignments(spoke, wait)}
        return self.events(spoke, json.loads(body))

    async def assignments(self, spoke: Spoke, wait: float) -> list[object]:
        deadline = time.monotonic() + wait
        self.polled.add(spoke.name)
        if len(self.polled) == len(self.spokes):
            self.ready.set()
        try:  # no work before every agent has started: start-up is not throughput
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await self.ready.wait()
        except TimeoutError:
            return []
        while spoke.in_flight >= spoke.window or spoke.next_id >= spoke.todo:
            spoke.wake.clear()
            if spoke.next_id >= spoke.todo or time.monotonic() >= deadline:
                if spoke.next_id >= spoke.todo:
                    await asyncio.sleep(max(0.0, min(wait, deadline - time.monotonic())))
                return []
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    await spoke.wake.wait()
            except TimeoutError:
                return []
        items = []
        now = time.perf_counter()
        self.first = self.first or now
        while spoke.in_flight < spoke.window and spoke.next_id < spoke.todo:
            wid = f"{spoke.name}-{spoke.next_id}"
            spoke.next_id += 1
            spoke.in_flight += 1
            spoke.handed[wid] = now
            items.append({"workload": wid, "generation": 1, "spec": SPEC})
        return items

    def events(self, spoke: Spoke, batch: dict[str, list[dict[str, object]]]) -> object:
        now = time.perf_counter()
        for event in batch.get("events", []):
            spoke.high_seq = max(spoke.high_seq, int(event["seq"]))  # type: ignore[call-overload]
            wid = str(event["workload"])
            if event["type"] == "started":
                self.twice += wid in self.started
                self.started.add(wid)
            if event["type"] in ("succeeded", "failed", "cancelled", "rejected"):
                self.twice += wid in self.ended
                self.ended.add(wid)
                if event["type"] != "succeeded":
                    self.failed += 1
                    why = f"{event['type']} {event.get('reason')}: {event.get('message')}"
                    self.reasons[why] = self.reasons.get(why, 0) + 1
                spoke.in_flight -= 1
                spoke.done += 1
                self.latencies.append(now - spoke.handed.pop(str(event["workload"])))
                self.last = now
                spoke.wake.set()
        for point in batch.get("telemetry", []):
            spoke.high_seq = max(spoke.high_seq, int(point["seq"]))  # type: ignore[call-overload]
        if all(s.done >= s.todo for s in self.spokes.values()):
            self.finished.set()
        return {"acked_through": spoke.high_seq, "refused": [], "duplicates": 0}


def below_cpu(pid: int) -> tuple[float, float, float]:
    """CPU seconds of an agent's launcher, its keepers, and the runs (reaped by the keepers)."""
    launcher = keepers = runs = 0.0
    try:
        procs = psutil.Process(pid).children()
        lp = next(p for p in procs if "launcher" in " ".join(p.cmdline()))
        t = lp.cpu_times()
        launcher = t.user + t.system
        for k in lp.children():
            t = k.cpu_times()
            keepers += t.user + t.system
            runs += t.children_user + t.children_system
    except (StopIteration, psutil.Error):
        pass
    return launcher, keepers, runs


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and everything below it, the reaped ones included."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            continue
    return total


async def agents(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    per = args.runs // args.spokes
    spokes = {f"spoke{i}": Spoke(f"spoke{i}", per, args.window) for i in range(1, args.spokes + 1)}
    hub = FakeHub(spokes)
    server = await asyncio.start_server(hub.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    token = tmp / "boot"
    token.write_text("bench-boot")
    token.chmod(0o600)
    procs = []
    for name in spokes:
        argv = [
            sys.executable, "-m", "kindfleet.platform.agent", "--hub", f"http://127.0.0.1:{port}",
            "--name", name, "--state-dir", str(tmp / name), "--bootstrap-token-file", str(token),
            "--cpu", "16", "--memory", "64Gi", "--log-level", "warning",
            "--log-file", str(tmp / f"{name}.log"), "--poll-wait", "5",
            "--run-cgroups", args.cgroups,
        ]  # fmt: skip
        procs.append(subprocess.Popen(argv))
    launched = time.perf_counter()
    busy_start, _ = machine()
    try:
        async with asyncio.timeout(args.timeout):
            await hub.ready.wait()
            # From here on: the agents' start-up (imports, database, registration) is done.
            up = time.perf_counter() - launched
            hub_cpu0 = time.process_time()
            busy0, idle0 = machine()
            own0 = sum(_own_cpu(p.pid) for p in procs)
            parts0 = [below_cpu(p.pid) for p in procs]
            all0 = sum(tree_cpu(p.pid) for p in procs)
            await hub.finished.wait()
    finally:
        busy1, idle1 = machine()
        agent_own = sum(_own_cpu(p.pid) for p in procs) - own0
        parts = [
            tuple(a - b for a, b in zip(now, then, strict=True))
            for now, then in zip([below_cpu(p.pid) for p in procs], parts0, strict=True)
        ]
        agent_all = sum(tree_cpu(p.pid) for p in procs) - all0
        hub_cpu = time.process_time() - hub_cpu0
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(60)
        server.close()
    assert hub.first is not None
    wall = hub.last - hub.first
    done = sum(s.done for s in spokes.values())
    lat = sorted(hub.latencies)
    return {
        "done": done,
        "failed": hub.failed,
        "twice": hub.twice,
        "reasons": hub.reasons,
        "wall": wall,
        "rate": done / wall,
        "p50": lat[len(lat) // 2],
        "p99": lat[int(len(lat) * 0.99)],
        "agent_ms": agent_own / done * 1e3,
        "below_ms": (agent_all - agent_own) / done * 1e3,
        "hub_ms": hub_cpu / done * 1e3,
        # From every agent asking for work to the last report.
        "machine_ms": (busy1 - busy0) / done * 1e3,
        "startup": (up, busy0 - busy_start),
        "machine_busy": (busy1 - busy0) / max(1e-9, busy1 - busy0 + idle1 - idle0),
        "parts_ms": [sum(x[i] for x in parts) / done * 1e3 for i in range(3)],
        "requests": {k: v / done for k, v in hub.requests.items() if k != "register"},
    }


def _own_cpu(pid: int) -> float:
    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return t.user + t.system


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--spokes", type=int, default=5)
    parser.add_argument("--window", type=int, default=160, help="assignments in flight per spoke")
    parser.add_argument("--bare-per-loop", type=int, default=1000)
    parser.add_argument("--cgroups", choices=("auto", "off"), default="auto")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument(
        "--state-root",
        default=None,
        help="where the agents' state directories go (default: the temp dir); each run makes a "
        "directory and two files there, so a slow file system shows in the keepers' CPU",
    )
    args = parser.parse_args()

    rate, cpu, bare_machine = bare(args.spokes, args.bare_per_loop)
    print(
        f"bare: {args.spokes} loops spawn /bin/true at {rate:,.0f}/s ({cpu:.2f} ms CPU each, "
        f"the machine {bare_machine:.2f} ms)"
    )
    with tempfile.TemporaryDirectory(prefix="kindfleet-agents-", dir=args.state_root) as tmp:
        print(f"a run's directory under {tmp}: {run_dirs(Path(tmp)):.2f} ms of kernel CPU")
        got = asyncio.run(agents(args, Path(tmp)))
    print(
        f"agents: {got['done']:,.0f} runs on {args.spokes} agents in {got['wall']:.1f}s: "
        f"{got['rate']:,.0f}/s ({got['rate'] / args.spokes:,.0f}/s per agent), "
        f"{got['failed']:.0f} failed, {got['twice']:.0f} run twice"
    )
    up, up_cpu = got["startup"]
    print(
        f"  (not in these figures: the agents' start-up, {up:.1f}s until all {args.spokes} asked "
        f"for work, {up_cpu:.1f}s of the machine's CPU; the first runs fork the keepers)"
    )
    for why, count in got["reasons"].items():
        print(f"  not succeeded: {count} x {why}")
    print(f"ratio to the bare spawn rate: {got['rate'] / rate:.2f}")
    print(
        f"assignment handed out -> terminal report received: p50 {got['p50'] * 1e3:.0f} ms, "
        f"p99 {got['p99'] * 1e3:.0f} ms"
    )
    print(
        f"CPU per run: agent {got['agent_ms']:.2f} ms, launcher + keepers + the run "
        f"{got['below_ms']:.2f} ms (bare spawn {cpu:.2f} ms), fake hub {got['hub_ms']:.2f} ms"
    )
    print(
        f"the machine's CPU per run, every process: {got['machine_ms']:.2f} ms against the bare "
        f"loops' {bare_machine:.2f} ms; busy {got['machine_busy']:.0%} of the time"
    )
    launcher_ms, keepers_ms, runs_ms = got["parts_ms"]
    print(
        f"  of which: launcher {launcher_ms:.2f} ms, keepers {keepers_ms:.2f} ms, the runs "
        f"{runs_ms:.2f} ms (keepers forked at the start are not in these: alive ones only)"
    )
    per_run = ", ".join(f"{k} {v:.3f}" for k, v in sorted(got["requests"].items()))
    print(f"hub requests per run: {per_run}")
    print(f"load average now: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
