"""The process executor with real processes: its own process group per run, stop ends the
whole group, usage and metrics sampled, leftovers found by group with the pid-reuse guard."""

from __future__ import annotations

import asyncio
import os
import subprocess
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
from kindfleet.platform.agent.executors.process.executor import ProcessExecutor
from kindfleet.platform.agent.executors.process.proctree import (
    kill_leftovers,
    leftovers,
    start_time,
)
from kindfleet.platform.wire import WorkloadSpec

FAMILY = """
import os, pathlib, subprocess, time
child = subprocess.Popen(["sleep", "60"])
pathlib.Path(os.environ["KINDFLEET_OUTPUT_DIR"], "child").write_text(str(child.pid))
time.sleep(60)
"""


def _request(tmp_path: Path, spec: WorkloadSpec, gpu_ids=()) -> RunRequest:
    return RunRequest("w1", 1, spec, tmp_path / "run", gpu_ids)


async def _wait_exit(executor: ProcessExecutor, handle: RunHandle, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = await executor.poll(handle)
        if not status.running:
            return status
        await asyncio.sleep(0.02)
    raise AssertionError("the run did not end")


async def _child_pid(path: Path) -> int:
    for _ in range(200):
        if path.exists() and path.read_text():
            return int(path.read_text())
        await asyncio.sleep(0.02)
    raise AssertionError("no child pid")


async def test_runs_in_its_own_session_with_files_under_the_run_dir(tmp_path: Path):
    executor = ProcessExecutor(base_env={"PATH": os.environ["PATH"], "KINDFLEET_SECRET": "x"})
    code = "import os, sys; print(os.getsid(0), os.getpgid(0)); print('err', file=sys.stderr)"
    handle = await executor.start(_request(tmp_path, py(code)))
    status = await _wait_exit(executor, handle)
    assert (status.phase, status.exit_code) == (RunPhase.EXITED, 0)
    sid, pgid = map(int, (tmp_path / "run" / "stdout.log").read_text().split())
    assert sid == pgid == handle.ref["pid"]
    assert (tmp_path / "run" / "stderr.log").read_text() == "err\n"
    assert (tmp_path / "run" / "outputs").is_dir()
    await executor.release(handle)


async def test_exit_codes_and_signals(tmp_path: Path):
    executor = ProcessExecutor()
    handle = await executor.start(_request(tmp_path, py("import sys; sys.exit(5)")))
    assert (await _wait_exit(executor, handle)).exit_code == 5
    handle = await executor.start(_request(tmp_path, py("import os; os.kill(os.getpid(), 9)")))
    assert (await _wait_exit(executor, handle)).exit_code == 137


async def test_a_command_that_cannot_start(tmp_path: Path):
    executor = ProcessExecutor()
    with pytest.raises(ExecutorError) as caught:
        await executor.start(_request(tmp_path, WorkloadSpec(name="x", command=["/nope/x"])))
    assert caught.value.code == 127
    assert "x" in caught.value.message


async def test_stop_ends_the_whole_group_even_a_child_that_ignores_sigterm(tmp_path: Path):
    executor = ProcessExecutor()
    code = FAMILY.replace('["sleep", "60"]', '["sh", "-c", "trap \\"\\" TERM; sleep 60"]')
    handle = await executor.start(_request(tmp_path, py(code)))
    child = await _child_pid(tmp_path / "run" / "outputs" / "child")
    started = time.monotonic()
    status = await executor.stop(handle, grace_seconds=0.5)
    assert status.exit_code == 143  # the leader took SIGTERM
    for _ in range(100):
        if gone(child):
            break
        await asyncio.sleep(0.02)
    assert gone(child)  # the TERM-ignoring child got SIGKILL with the group
    assert time.monotonic() - started < 5


async def test_sample_measures_the_tree_and_reads_metrics(tmp_path: Path):
    executor = ProcessExecutor()
    code = """
import json, os, time
print("KINDFLEET_METRIC loss=0.5", flush=True)
with open(os.environ["KINDFLEET_METRICS_FILE"], "a") as f:
    f.write(json.dumps({"acc": 0.75}) + "\\n")
end = time.time() + 3
while time.time() < end:
    pass
"""
    handle = await executor.start(_request(tmp_path, py(code)))
    await asyncio.sleep(0.6)
    first = await executor.sample(handle)
    await asyncio.sleep(0.5)
    second = await executor.sample(handle)
    assert first is not None and second is not None
    assert first.metrics == {"loss": 0.5, "acc": 0.75}
    assert second.metrics == {}  # only what is new since the last sample
    assert second.cpu_cores > 0.3
    assert second.rss_bytes > 1_000_000
    await executor.stop(handle, grace_seconds=0.2)
    await executor.release(handle)


async def test_gpu_ids_and_identity_reach_the_environment(tmp_path: Path):
    executor = ProcessExecutor(base_env={"PATH": os.environ["PATH"]})
    code = "import os; print(os.environ['CUDA_VISIBLE_DEVICES'], os.environ['KINDFLEET_GPU_IDS'])"
    handle = await executor.start(_request(tmp_path, py(code), gpu_ids=(1, 3)))
    await _wait_exit(executor, handle)
    assert (tmp_path / "run" / "stdout.log").read_text().split() == ["1,3", "1,3"]


async def test_recover_kills_what_is_left_and_reports_lost(tmp_path: Path):
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    handle = RunHandle(
        "process", {"pid": proc.pid, "pgid": proc.pid, "start": start_time(proc.pid)}
    )
    status = await ProcessExecutor().recover(handle, _request(tmp_path, py("pass")))
    assert (status.phase, status.reason) == (RunPhase.LOST, "AgentRestarted")
    assert gone(proc.pid)  # killed (and reaped by psutil.wait_procs, as it is our child)


def test_leftovers_refuses_a_group_whose_leader_pid_was_reused():
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        real = start_time(proc.pid)
        assert leftovers(proc.pid, real - 1000) == []  # "started" long ago: not this process
        assert [p.pid for p in leftovers(proc.pid, real)] == [proc.pid]
        assert kill_leftovers(proc.pid, real) == [proc.pid]
        assert gone(proc.pid)
    finally:
        proc.kill()
