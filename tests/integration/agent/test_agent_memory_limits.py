"""A run that uses more memory than its spec asks for is OOMKilled, as on a cluster.

Found from outside: `--memory 64Mi -- python -c "x = bytearray(300 << 20)..."` Succeeded on
the embedded runtime; on a KIND spoke the same spec is a Job whose container is limited to
64Mi, and it is OOMKilled. A real agent, launcher and keeper, real processes."""

from __future__ import annotations

from agent_it_helpers import py, wait_until

HOG = "import time; x = bytearray(200 << 20); time.sleep(30)"


def _ended(hub, wid):
    wait_until(
        lambda: hub.double.workload(wid).state in {"Succeeded", "Failed"}, timeout=30, what="end"
    )
    return hub.double.workload(wid)


def test_a_run_past_its_memory_is_killed_and_reported_oomkilled(hub, start_agent):
    start_agent()
    wid = hub.double.run(py(HOG, resources={"memory": "64Mi"}), "spoke1")
    ended = _ended(hub, wid)
    assert (ended.state, ended.reason) == ("Failed", "OOMKilled")
    event = hub.double.status_events(wid)[-1]
    assert event.exit_code == 137  # SIGKILL, as the kernel's OOM kill
    assert "64Mi" in (event.message or "")


def test_a_child_past_the_runs_memory_takes_the_whole_run_with_it(hub, start_agent):
    start_agent()
    code = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {HOG!r}])\n"
        "time.sleep(30)\n"
    )
    wid = hub.double.run(py(code, resources={"memory": "64Mi"}), "spoke1")
    ended = _ended(hub, wid)  # the first process only sleeps: the whole run was killed
    assert (ended.state, ended.reason) == ("Failed", "OOMKilled")


def test_forks_sharing_their_memory_count_it_once(hub, start_agent):
    """A parent that fills 48Mi and forks three workers shares those pages with them: a
    cluster charges them once (as PSS counts them), not four times (as RSS would)."""
    start_agent()
    code = (
        "import os, time\n"
        "x = bytearray(48 << 20)\n"
        "for _ in range(3):\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(2)\n"
        "        os._exit(0)\n"
        "time.sleep(2)\n"
    )
    wid = hub.double.run(py(code, resources={"memory": "96Mi"}), "spoke1")
    assert _ended(hub, wid).state == "Succeeded"


def test_a_run_within_its_memory_succeeds_and_off_lets_a_hog_be(hub, start_agent):
    start_agent("--run-memory-limits", "off")
    hog = hub.double.run(
        py("import time; x = bytearray(200 << 20); time.sleep(1)", resources={"memory": "64Mi"}),
        "spoke1",
    )
    assert _ended(hub, hog).state == "Succeeded"
