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


def test_the_launcher_may_open_more_files_and_its_runs_have_the_agents_limit(hub, tmp_path: Path):
    agent = AgentProc(tmp_path, hub, "spoke1", [])
    agent.proc = subprocess.Popen(["sh", "-c", 'ulimit -Sn 512; exec "$@"', "sh", *agent.argv()])
    try:
        out = tmp_path / "limit"
        wid = hub.double.run(spec("sh", "-c", f"ulimit -Sn > {out}"), "spoke1")
        wait_until(lambda: hub.double.workload(wid).state == "Succeeded", what="the run")
        assert out.read_text().strip() == "512"  # the run's limit: the agent's
        assert psutil.Process(agent.pid).rlimit(psutil.RLIMIT_NOFILE)[0] == 512
        launcher = next(
            p for p in psutil.Process(agent.pid).children() if "launcher" in " ".join(p.cmdline())
        )
        soft, hard = launcher.rlimit(psutil.RLIMIT_NOFILE)
        assert soft == min(hard, CEILING) > 512
    finally:
        agent.cleanup()
