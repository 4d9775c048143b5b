"""A spoke's launcher holds a socket per keeper: 1,100 runs under the usual soft limit of
1,024 open files failed 85 of them ("could not start a keeper for it: Too many open
files") while the hard limit allowed far more. The launcher raises its soft limit; the
runs still start with the limit the agent was given."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psutil
from agent_it_helpers import AgentProc, spec, wait_until

from kindfleet.platform.openfiles import CEILING


def _limits(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open-files line")


def test_the_launcher_may_open_more_files_and_its_runs_have_the_agents_limit(hub, tmp_path: Path):
    agent = AgentProc(tmp_path, hub, "spoke1", [])
    agent.proc = subprocess.Popen(["sh", "-c", 'ulimit -Sn 512; exec "$@"', "sh", *agent.argv()])
    try:
        out = tmp_path / "limit"
        wid = hub.double.run(spec("sh", "-c", f"ulimit -Sn > {out}"), "spoke1")
        wait_until(lambda: hub.double.workload(wid).state == "Succeeded", what="the run")
        assert out.read_text().strip() == "512"  # the run's limit: the agent's
        assert _limits(agent.pid)[0] == 512
        launcher = next(
            p for p in psutil.Process(agent.pid).children() if "launcher" in " ".join(p.cmdline())
        )
        soft, hard = _limits(launcher.pid)
        assert soft == min(hard, CEILING) > 512
    finally:
        agent.cleanup()
