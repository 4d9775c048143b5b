"""The agent's state directory removed under it (a /tmp cleaner, a stranger's rm -rf).

Found from outside: the agent went on with a database no path named (every commit into a
deleted file, gone at its next start), and every new run failed at once ("cannot create
the run directory"), each spending a retry: a black hole, and silent. It now stops, its
runs stopped and reported, and exits 1 saying why and what to do."""

from __future__ import annotations

import shutil

import pytest
from agent_it_helpers import py, wait_until


@pytest.mark.parametrize("replaced_by", [None, "file"])
def test_an_agent_whose_state_directory_is_removed_stops_and_says_why(
    hub, start_agent, replaced_by
):
    """`file`: a file where the directory was; the agent's look at its lock raised
    NotADirectoryError, which ended its heartbeats without a word (the hub then judged
    the spoke lost while its runs went on)."""
    agent = start_agent()
    running = hub.double.run(py("import time; time.sleep(60)"), "spoke1")
    wait_until(lambda: hub.double.workload(running).state == "Running", what="the run")
    shutil.rmtree(agent.state_dir)
    if replaced_by == "file":
        agent.state_dir.write_text("not a directory")
    assert agent.proc is not None
    assert agent.proc.wait(30) == 1
    ended = hub.double.workload(running)
    assert (ended.state, ended.reason) == ("Failed", "AgentShutdown")  # stopped, reported
    out = (agent.root / "spoke1.out.1").read_text()
    assert "was removed or replaced while the agent ran" in out
    assert "new join token" in out  # what to do
    assert "Traceback" not in out
