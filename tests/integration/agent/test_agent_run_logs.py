"""A run's stdout kept to the agent's cap, as the kubelet keeps a container's log.

Found from outside: `yes` submitted to the embedded fleet filled its 1 GB state disk in
under two seconds (the hub's store on it went with it), and would fill a laptop's disk in
minutes. A real agent, a real launcher and keeper, real runs."""

from __future__ import annotations

from pathlib import Path

from agent_it_helpers import py, spec, wait_until

CAP = 64 * 1024
LINE = "a fairly ordinary log line from a chatty workload"


def _logs(run: Path) -> list[Path]:
    return sorted(run.glob("stdout.log*"))


def test_a_chatty_run_is_kept_to_its_cap_while_it_runs(hub, start_agent):
    agent = start_agent("--run-log-max-size", "64Ki", "--run-log-max-files", "3")
    wid = hub.double.run(spec("yes", LINE), "spoke1")
    run = agent.run_dir(wid)
    wait_until((run / "stdout.log.2").exists, timeout=60, what="two rotations")
    assert hub.double.workload(wid).state == "Running"  # rotated under it; it goes on
    hub.double.cancel(wid)
    wait_until(lambda: hub.double.workload(wid).state == "Cancelled", timeout=30, what="cancel")
    assert [p.name for p in _logs(run)] == ["stdout.log", "stdout.log.1", "stdout.log.2"]
    for log in _logs(run):
        assert log.stat().st_size <= CAP, log.name
        lines = log.read_text().split("\n")
        assert set(lines[1:-1]) <= {LINE}, log.name  # whole lines (the ends may be cut)
    assert set((run / "stdout.log.1").read_text().split("\n")[:-1]) == {LINE}  # aligned


def _succeeded(hub, start_agent, code: str) -> Path:
    """The directory of a run of `code` on an agent capping logs at 64Ki and one copy,
    once it has succeeded."""
    agent = start_agent("--run-log-max-size", "64Ki", "--run-log-max-files", "2")
    wid = hub.double.run(py(code), "spoke1")
    wait_until(lambda: hub.double.workload(wid).state == "Succeeded", timeout=90, what="run")
    return agent.run_dir(wid)


def _shown(run: Path) -> list[int]:
    """Where `kindfleet logs` reads: the newest copy, then the log (spokectl logs)."""
    data = b"".join(
        p.read_bytes() for p in (run / "stdout.log.1", run / "stdout.log") if p.exists()
    )
    return [int(line) for line in data.decode().splitlines()]


def test_a_run_that_wrote_a_burst_and_ended_keeps_its_newest_lines_within_its_cap(hub, start_agent):
    """What a run writes while its keeper copies the log is lost (copytruncate): under a
    starved CPU, a rotation racing the burst's last writes took the last lines (the test
    claimed them kept: 1 run in 10 beside 4 busy loops). What holds: the cap, and lines
    whole and in order (how a run ended is kept when no rotation races it: the next test;
    that a log past its cap at the end keeps its newest part: test_agent_logcap.py)."""
    code = (  # 2 MB in whole lines, a hundred a write, then it ends
        "import os\n"
        "for s in range(0, 300_000, 100):\n"
        "    os.write(1, ''.join(f'{i}\\n' for i in range(s, s + 100)).encode())\n"
    )
    run = _succeeded(hub, start_agent, code)
    assert {p.name for p in _logs(run)} <= {"stdout.log", "stdout.log.1"}
    assert all(log.stat().st_size <= CAP for log in _logs(run))
    shown = _shown(run)
    assert shown and shown == sorted(set(shown))  # whole lines, in order, none twice


def test_the_last_lines_of_a_run_after_its_log_was_rotated_are_kept(hub, start_agent):
    """A run that goes on writing after a rotation, and ends: its last lines are where
    `kindfleet logs` reads them (no rotation can race them: its log is below its cap)."""
    code = (  # a burst past the cap, then, once the keeper has emptied the log, its last line
        "import os, time\n"
        "os.write(1, ''.join(f'{i}\\n' for i in range(100_000)).encode())\n"
        "deadline = time.monotonic() + 60\n"
        "while os.fstat(1).st_size > 32 * 1024:\n"
        "    assert time.monotonic() < deadline, 'never rotated'\n"
        "    time.sleep(0.01)\n"
        "os.write(1, b'100000\\n')\n"
    )
    run = _succeeded(hub, start_agent, code)
    assert (run / "stdout.log.1").exists()
    assert _shown(run)[-1] == 100_000  # how the run ended is kept
