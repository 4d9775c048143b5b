"""Resident memory of one spoke agent process: idle, and while it runs N small runs.

Issue 3 sets the target at under 80 MB for an agent. Its launcher and keepers (which start
the runs) are measured apart, by PSS. The agent is started exactly as the
local runtime starts it (`python -m kindfleet.platform.agent ...`) against the real hub
(`python -m kindfleet.platform.hub`, SQLite store) when it can be started, else against the
hub double of tests/integration/agent. Only the agent's own RSS is measured (its runs are
separate processes).

    .venv/bin/python benchmarks/agent_memory.py [--runs 20] [--hub auto|real|double]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
SPOKE = "bench"


class RealHub:
    name = "real hub (python -m kindfleet.platform.hub, SQLite)"

    def __init__(self, tmp: Path) -> None:
        import httpx2

        (tmp / "client").write_text("bench-client-" + uuid.uuid4().hex)
        (tmp / "boot").write_text("bench-boot-" + uuid.uuid4().hex)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kindfleet.platform.hub",
                "--port",
                "0",
                "--port-file",
                str(tmp / "port"),
                "--store",
                f"sqlite:///{tmp}/hub.db",
                "--client-token-file",
                str(tmp / "client"),
                "--bootstrap-token-file",
                str(tmp / "boot"),
                "--log-file",
                str(tmp / "hub.log"),
            ]
        )
        deadline = time.monotonic() + 20
        while not (tmp / "port").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the real hub did not start")
            time.sleep(0.1)
        self.url = f"http://127.0.0.1:{int((tmp / 'port').read_text())}"
        token = (tmp / "client").read_text()
        self.http = httpx2.Client(
            base_url=self.url + "/v1", headers={"Authorization": f"Bearer {token}"}
        )
        # A spoke that joins with the fleet token waits for an operator's approval (and gets
        # no work meanwhile); one with its own join token is trusted at once, as `up` does.
        minted = self.http.post(f"/spokes/{SPOKE}/join-tokens")
        minted.raise_for_status()
        self.token_file = tmp / "join"
        self.token_file.write_text(minted.json()["token"])

    def submit(self, command: list[str]) -> str:
        spec = {"name": "bench", "command": command}
        r = self.http.post("/workloads", json=spec, headers={"Idempotency-Key": uuid.uuid4().hex})
        r.raise_for_status()
        return str(r.json()["workload"]["id"])

    def state(self, wid: str) -> str:
        return str(self.http.get(f"/workloads/{wid}").json()["state"])

    def close(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(20)


class DoubleHub:
    name = "hub double (tests/integration/agent/agent_hubdouble.py)"

    def __init__(self, tmp: Path) -> None:
        sys.path.insert(0, str(ROOT / "tests" / "integration" / "agent"))
        from agent_hubdouble import HubDouble, HubServer  # type: ignore[import-not-found]

        from kindfleet.platform.wire import WorkloadSpec

        self.spec = WorkloadSpec
        self.server = HubServer(HubDouble())
        self.server.start()
        self.url = self.server.url
        self.token_file = tmp / "boot"
        self.token_file.write_text(self.server.double.bootstrap_token)

    def submit(self, command: list[str]) -> str:
        return str(self.server.double.run(self.spec(name="bench", command=command), "bench"))

    def state(self, wid: str) -> str:
        return str(self.server.double.workload(wid).state)

    def close(self) -> None:
        self.server.stop()


def rss_mb(proc: psutil.Process) -> float:
    return proc.memory_info().rss / MB


def _name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.Error:
        return ""


def launcher_and_keepers(agent: psutil.Process) -> tuple[float, float]:
    """(launcher PSS, keepers' PSS summed), MB: proportional set size, so the pages a keeper
    shares with the launcher (it is a fork) are counted once, not once per keeper."""
    try:
        launcher = next(c for c in agent.children() if "launcher" in " ".join(c.cmdline()))
        keepers = launcher.children()
        return (
            launcher.memory_full_info().pss / MB,
            sum(k.memory_full_info().pss for k in keepers) / MB,
        )
    except (StopIteration, psutil.Error):
        return 0.0, 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=6.0, help="how long each run sleeps")
    parser.add_argument("--hub", choices=["auto", "real", "double"], default="auto")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        hub: RealHub | DoubleHub
        if args.hub == "double":
            hub = DoubleHub(tmp)
        else:
            try:
                hub = RealHub(tmp)
            except Exception as exc:
                if args.hub == "real":
                    raise
                print(f"(real hub unavailable: {exc}; using the double)")
                hub = DoubleHub(tmp)
        agent = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kindfleet.platform.agent",
                "--hub",
                hub.url,
                "--name",
                SPOKE,
                "--state-dir",
                str(tmp / "state"),
                "--bootstrap-token-file",
                str(hub.token_file),
                "--cpu",
                "64",
                "--memory",
                "64Gi",
                "--log-file",
                str(tmp / "agent.log"),
            ]
        )
        try:
            ok = measure(hub, psutil.Process(agent.pid), args.runs, args.seconds)
        finally:
            agent.terminate()
            code = agent.wait(30)
            hub.close()
        print(f"agent exit code after SIGTERM: {code}")
    sys.exit(0 if ok and code == 0 else 1)


def measure(hub: RealHub | DoubleHub, agent: psutil.Process, runs: int, seconds: float) -> bool:
    """Prints the figures; False when not every run succeeded (then they measure nothing)."""
    print(f"hub: {hub.name}")
    time.sleep(3.0)  # registered, heartbeating, long-polling
    idle = [rss_mb(agent)]
    for _ in range(10):
        time.sleep(0.2)
        idle.append(rss_mb(agent))
    print(f"agent RSS idle:                 {statistics.median(idle):6.1f} MB")

    started = time.monotonic()
    ids = [hub.submit(["sleep", f"{seconds:g}"]) for _ in range(runs)]
    busy: list[float] = []
    below: list[tuple[float, float]] = []
    while time.monotonic() - started < seconds * 3 + 30:
        busy.append(rss_mb(agent))
        tree = agent.children(recursive=True)
        running = sum(1 for c in tree if _name(c) == "sleep")
        if running:
            below.append(launcher_and_keepers(agent))
        if running == 0 and all(hub.state(w) in {"Succeeded", "Failed"} for w in ids):
            break
        time.sleep(0.25)
    states = [hub.state(w) for w in ids]
    print(
        f"agent RSS while {runs} runs ran:   median {statistics.median(busy):6.1f} MB,"
        f" peak {max(busy):6.1f} MB"
    )
    if below:
        launcher, keepers = max(below, key=lambda b: b[1])
        print(
            f"launcher PSS {launcher:6.1f} MB; its keepers (one per running run, forks of it) "
            f"PSS {keepers:6.1f} MB in all at the peak"
        )
    time.sleep(2.0)
    print(f"agent RSS after they finished:  {rss_mb(agent):6.1f} MB")
    took = time.monotonic() - started
    print(f"runs succeeded: {states.count('Succeeded')}/{runs} in {took:.1f}s")
    print("target: < 80 MB")
    return states.count("Succeeded") == runs


if __name__ == "__main__":
    main()
