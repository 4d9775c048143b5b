"""The process executor with real processes, through its launcher: where a run starts (its
own directory, its own process group, a scrubbed environment, private files), exit codes,
stop ending the whole tree, a run's leftovers killed when it ends, usage and metrics
sampled, and a run never started twice."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from agent_unit_helpers import gone, py

from kindfleet.platform.agent.executors.base import (
    ExecutorError,
    RunHandle,
    RunPhase,
    RunRequest,
)
from kindfleet.platform.agent.executors.process import procfs
from kindfleet.platform.agent.executors.process.executor import ProcessExecutor
from kindfleet.platform.wire import WorkloadSpec

FAMILY = """
import os, pathlib, subprocess, time
child = subprocess.Popen(["sleep", "60"])
pathlib.Path(os.environ["KINDFLEET_OUTPUT_DIR"], "child").write_text(str(child.pid))
time.sleep(60)
"""


@pytest.fixture
async def executor(tmp_path: Path):
    (tmp_path / "state" / "runs").mkdir(parents=True)
    ex = ProcessExecutor(tmp_path / "state")
    yield ex
    await ex.close()


def _request(tmp_path: Path, spec: WorkloadSpec, gpu_ids=(), key: str = "w1") -> RunRequest:
    return RunRequest(key, 1, spec, tmp_path / "state" / "runs" / f"{key}-g1", gpu_ids)


async def _wait_exit(executor: ProcessExecutor, handle: RunHandle, timeout=10.0):
    wake = asyncio.Event()
    assert executor.watch(handle, wake)
    await asyncio.wait_for(wake.wait(), timeout)
    status = await executor.poll(handle)
    assert not status.running
    return status


async def _child_pid(path: Path) -> int:
    for _ in range(250):
        if path.exists() and path.read_text():
            return int(path.read_text())
        await asyncio.sleep(0.02)
    raise AssertionError("no child pid")


async def test_a_run_starts_in_its_directory_with_only_its_environment(tmp_path, executor):
    os.environ["KINDFLEET_TEST_SECRET"] = "agent-secret"  # the agent's own environment
    try:
        code = (
            "import json, os, sys; print(json.dumps({'cwd': os.getcwd(), 'env': dict(os.environ),"
            " 'sid': os.getsid(0), 'pgid': os.getpgid(0), 'pid': os.getpid()}));"
            " print('err', file=sys.stderr)"
        )
        spec = py(code, env={"MODEL": "tiny", "PATH": "/usr/bin:/bin"})
        handle = await executor.start(_request(tmp_path, spec))
        status = await _wait_exit(executor, handle)
    finally:
        del os.environ["KINDFLEET_TEST_SECRET"]
    assert (status.phase, status.exit_code) == (RunPhase.EXITED, 0)
    run_dir = tmp_path / "state" / "runs" / "w1-g1"
    import json

    seen = json.loads((run_dir / "stdout.log").read_text())
    assert seen["cwd"] == str(run_dir)
    assert set(seen["env"]) == {
        "PATH", "HOME", "LANG", "MODEL", "KINDFLEET_WORKLOAD_ID", "KINDFLEET_GENERATION",
        "KINDFLEET_OUTPUT_DIR", "KINDFLEET_METRICS_FILE", "CUDA_VISIBLE_DEVICES",
    }  # fmt: skip
    assert seen["env"]["PATH"] == "/usr/bin:/bin"  # the spec may set it
    assert seen["env"]["HOME"] == str(run_dir)
    assert seen["pgid"] == seen["pid"] == handle.ref["pid"]  # its own process group
    assert seen["sid"] == handle.ref["keeper"]  # in its keeper's session
    assert (run_dir / "stderr.log").read_text() == "err\n"
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in run_dir.iterdir()}
    assert modes == {
        "stdout.log": 0o600,
        "stderr.log": 0o600,
        "outputs": 0o700,
    }  # fmt: skip (metrics.jsonl appears when the run writes a metric)
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    await executor.release(handle)


async def test_exit_codes_and_signals(tmp_path, executor):
    handle = await executor.start(_request(tmp_path, py("import sys; sys.exit(5)"), key="a"))
    assert (await _wait_exit(executor, handle)).exit_code == 5
    kill9 = py("import os; os.kill(os.getpid(), 9)")
    handle = await executor.start(_request(tmp_path, kill9, key="b"))
    assert (await _wait_exit(executor, handle)).exit_code == 137


async def test_commands_that_cannot_start(tmp_path, executor):
    with pytest.raises(ExecutorError) as caught:
        await executor.start(_request(tmp_path, WorkloadSpec(name="x", command=["nope-x"])))
    assert (caught.value.code, caught.value.message) == (127, "command not found: nope-x")
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o600)
    spec = WorkloadSpec(name="x", command=[str(script)])
    with pytest.raises(ExecutorError) as caught:
        await executor.start(_request(tmp_path, spec, key="w2"))
    assert caught.value.code == 126


async def test_a_run_is_never_started_twice(tmp_path, executor):
    request = _request(tmp_path, py("pass"))
    await _wait_exit(executor, await executor.start(request))
    with pytest.raises(ExecutorError) as caught:
        await executor.start(request)  # e.g. recovered as accepted after a crash
    assert caught.value.reason == "AgentRestarted"


async def test_when_a_run_ends_everything_it_started_ends_too(tmp_path, executor):
    code = "import subprocess; subprocess.Popen(['sleep', '60'], start_new_session=True)"
    left = py(
        code + "; import os, pathlib; pathlib.Path(os.environ['KINDFLEET_OUTPUT_DIR'], 'child')"
        ".write_text(str(__import__('subprocess').Popen(['sleep', '60']).pid))"
    )
    handle = await executor.start(_request(tmp_path, left))
    status = await _wait_exit(executor, handle)
    child = int((tmp_path / "state/runs/w1-g1/outputs/child").read_text())
    assert status.exit_code == 0
    assert gone(child)  # killed (and reaped) before the run was reported ended
    assert procfs.descendants(int(handle.ref["keeper"])) == []


async def test_stop_ends_the_whole_tree_even_a_child_that_ignores_sigterm(tmp_path, executor):
    code = FAMILY.replace('["sleep", "60"]', '["sh", "-c", "trap \\"\\" TERM; sleep 60"]')
    handle = await executor.start(_request(tmp_path, py(code)))
    child = await _child_pid(tmp_path / "state/runs/w1-g1/outputs/child")
    started = time.monotonic()
    status = await executor.stop(handle, grace_seconds=0.5)
    assert status.exit_code == 143  # the first process took SIGTERM
    assert gone(child)  # the TERM-ignoring child got SIGKILL before the stop returned
    assert time.monotonic() - started < 5


async def test_sample_measures_the_tree_and_reads_metrics(tmp_path, executor):
    code = """
import json, os, subprocess, sys, time
print("KINDFLEET_METRIC loss=0.5", flush=True)
with open(os.environ["KINDFLEET_METRICS_FILE"], "a") as f:
    f.write(json.dumps({"acc": 0.75}) + "\\n")
subprocess.Popen([sys.executable, "-c", "import time\\nend = time.time() + 3\\nwhile time.time() < end: pass"])
time.sleep(3)
"""
    handle = await executor.start(_request(tmp_path, py(code)))
    await asyncio.sleep(0.6)
    [child] = procfs.children(int(handle.ref["pid"]))

    def child_cpu() -> tuple[float, float]:
        found = procfs.stat(child)
        assert found is not None
        return found.cpu_ticks / procfs.TICKS, time.monotonic()

    first = await executor.sample(handle)
    before = child_cpu()
    await asyncio.sleep(0.5)
    after = child_cpu()
    second = await executor.sample(handle)
    assert first is not None and second is not None
    assert first.metrics == {"loss": 0.5, "acc": 0.75}
    assert second.metrics == {}  # only what is new since the last sample
    # The busy child counts (the first process only sleeps): the tree is measured. What
    # the child got depends on the machine's load, so it is measured here too (+- a tick).
    child_cores = (after[0] - before[0]) / (after[1] - before[1])
    assert child_cores > 0
    assert second.cpu_cores >= child_cores - 2 / procfs.TICKS / (after[1] - before[1])
    assert second.rss_bytes > 1_000_000
    await executor.stop(handle, grace_seconds=0.2)
    ended = await executor.sample(handle)
    assert ended is not None and (ended.cpu_cores, ended.rss_bytes) == (0.0, 0)
    await executor.release(handle)


async def test_gpu_ids_and_identity_reach_the_environment(tmp_path, executor):
    code = "import os; print(os.environ['CUDA_VISIBLE_DEVICES'], os.environ['KINDFLEET_GPU_IDS'])"
    handle = await executor.start(_request(tmp_path, py(code), gpu_ids=(1, 3)))
    await _wait_exit(executor, handle)
    assert (tmp_path / "state/runs/w1-g1/stdout.log").read_text().split() == ["1,3", "1,3"]


async def test_recover_kills_what_is_left_and_reports_lost(tmp_path, executor):
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)  # a keeper's session
    (tmp_path / "state" / "keepers").write_text(f"keeper {proc.pid} {procfs.start_of(proc.pid)}\n")
    handle = RunHandle("process", {"key": "w1-g1", "pid": proc.pid})
    status = await executor.recover(handle, _request(tmp_path, py("pass")))
    assert (status.phase, status.reason) == (RunPhase.LOST, "AgentRestarted")
    assert "1 leftover" in (status.message or "")
    assert proc.wait(5) == -9


def test_a_reused_pid_is_never_killed(tmp_path):
    from kindfleet.platform.agent.executors.process import reaper

    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        start = procfs.start_of(proc.pid)
        assert start is not None
        (tmp_path / "keepers").write_text(f"keeper {proc.pid} {start + 1}\n")  # a later one
        assert reaper.reap(tmp_path) == []
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_a_record_torn_by_a_full_disk_is_skipped_and_the_rest_is_reaped(tmp_path):
    """A record written in part (a nearly full disk took some of its bytes; the launcher
    killed that keeper and starts its next record on a line of its own) made the reap
    raise ValueError: the agent then never reported the runs its launcher had lost."""
    from kindfleet.platform.agent.executors.process import reaper

    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        start = procfs.start_of(proc.pid)
        (tmp_path / "keepers").write_text(f"keeper 123\nkeeper 12x 4\nkeeper {proc.pid} {start}\n")
        assert reaper.reap(tmp_path, wait_seconds=2) == [proc.pid]
        assert proc.wait(5) == -9
    finally:
        proc.kill()
        proc.wait()


def test_a_session_whose_id_was_reused_by_a_new_leader_is_left_alone(tmp_path):
    """The recorded keeper is long gone and its pid now leads a new session (an agent
    started with a session of its own, a shell): its processes started after the keeper
    did, which was all the old check looked at. A reap killed the agents of fleets other
    tests were bringing up."""
    from kindfleet.platform.agent.executors.process import reaper

    leader = subprocess.Popen(
        ["sh", "-c", "sleep 60 & wait"], start_new_session=True
    )  # a new session leader and a process in its session
    try:
        start = procfs.start_of(leader.pid)
        assert start is not None
        (tmp_path / "keepers").write_text(f"keeper {leader.pid} {start - 1}\n")  # an older one
        assert reaper.reap(tmp_path, wait_seconds=0.5) == []
        assert leader.poll() is None
    finally:
        os.killpg(leader.pid, signal.SIGKILL)
        leader.wait()


async def test_the_keepers_file_stays_small_as_keepers_come_and_go(tmp_path):
    (tmp_path / "state" / "runs").mkdir(parents=True)
    ex = ProcessExecutor(tmp_path / "state", idle_seconds=0.1)
    gate = tmp_path / "gate"
    hold = f"import os, time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.01)"
    try:
        burst = [ex.start(_request(tmp_path, py(hold), key=f"b{i}")) for i in range(70)]
        handles = await asyncio.gather(*burst)  # seventy keepers at once: none ends before
        records = tmp_path / "state" / "keepers"
        assert len(records.read_text().splitlines()) >= 71
        gate.touch()
        for handle in handles:
            await _wait_exit(ex, handle)
        for i in range(40):  # the idle ones retire (and are reaped) while these run
            await _wait_exit(ex, await ex.start(_request(tmp_path, py("pass"), key=f"a{i}")))
            if len(records.read_text().splitlines()) < 10:
                break
            await asyncio.sleep(0.1)
        lines = records.read_text().splitlines()
        assert len(lines) < 10, lines
        assert lines[0].startswith(f"launcher {ex.launcher.pid} ")
    finally:
        await ex.close()


def test_a_tree_is_found_whole_from_stat_files_and_waitid_knows_when_none_is_left():
    """What the kill loops rely on (procfs.py): the scan sees the same tree as the kernel's
    `children` files when nothing exits, and `has_children` is False only once every child
    is reaped."""
    script = "sleep 60 & (sleep 60 & sleep 60 & wait) & wait"
    shell = subprocess.Popen(["bash", "-c", script], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while len(procfs.descendants(shell.pid)) < 4:  # two sleeps, a subshell, its sleep
            assert time.monotonic() < deadline, procfs.descendants(shell.pid)
            time.sleep(0.02)
        assert sorted(procfs.descendants_scanned(shell.pid)) == sorted(
            procfs.descendants(shell.pid)
        )
    finally:
        os.killpg(shell.pid, signal.SIGKILL)
        shell.wait()
    probe = """
import os, signal, sys
from kindfleet.platform.agent.executors.process import procfs
assert not procfs.has_children()
pid = os.fork()
if pid == 0:
    signal.pause()
os.kill(pid, signal.SIGKILL)
assert procfs.has_children()  # killed, not yet reaped: still a child
os.waitpid(pid, 0)
assert not procfs.has_children()
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
