"""Runs that try hard to outlive their end, through the process executor and its launcher:
a thousand children, a tree that ignores every signal it can, a fork loop that never stops.
Whatever they do, once the run is reported ended no process of it is left (checked in
/proc, by a marker in the environment of every process of the run)."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import pytest
from tests.procscan import with_environment

from kindfleet.platform.agent.executors.base import RunRequest
from kindfleet.platform.agent.executors.process.executor import ProcessExecutor
from kindfleet.platform.wire import WorkloadSpec

IGNORE_ALL = """
import signal, subprocess, sys, time
for s in signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD}:
    signal.signal(s, signal.SIG_IGN)
if len(sys.argv) < 2:  # the first process: three children that ignore everything too
    for _ in range(3):
        subprocess.Popen([sys.executable, __file__, "child"])
time.sleep(300)
"""


def _marked(marker: str) -> list[int]:
    return with_environment(f"KINDFLEET_TEST_ATTACK={marker}")


@pytest.fixture
async def executor(tmp_path: Path):
    (tmp_path / "runs").mkdir()
    ex = ProcessExecutor(tmp_path)
    yield ex
    await ex.close()


def _request(tmp_path: Path, marker: str, *command: str) -> RunRequest:
    spec = WorkloadSpec(name="attack", command=list(command), env={"KINDFLEET_TEST_ATTACK": marker})
    return RunRequest("attack", 1, spec, tmp_path / "runs" / "attack-g1")


async def _until(predicate, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def test_a_thousand_children_left_behind_die_with_the_run(tmp_path, executor):
    marker = uuid.uuid4().hex
    script = 'for i in $(seq 1000); do sleep 300 & done; echo "$(jobs -p | wc -l)" > outputs/n'
    handle = await executor.start(_request(tmp_path, marker, "bash", "-c", script))
    wake = asyncio.Event()
    assert executor.watch(handle, wake)
    await asyncio.wait_for(wake.wait(), 120)  # the first process exits at once...
    status = await executor.poll(handle)
    assert status.exit_code == 0
    assert (tmp_path / "runs/attack-g1/outputs/n").read_text().strip() == "1000"
    assert _marked(marker) == []  # ...and the run ends only once its thousand are gone


async def test_a_tree_that_ignores_every_signal_it_can_is_stopped(tmp_path, executor):
    marker = uuid.uuid4().hex
    script = tmp_path / "ignore_all.py"
    script.write_text(IGNORE_ALL)
    handle = await executor.start(_request(tmp_path, marker, sys.executable, str(script)))
    await _until(lambda: len(_marked(marker)) == 4, 30, "the tree of four")
    status = await executor.stop(handle, grace_seconds=0.5)
    assert status.exit_code == 137  # SIGTERM was ignored: SIGKILL after the grace period
    assert _marked(marker) == []


async def test_a_fork_loop_that_never_stops_is_stopped(tmp_path, executor):
    marker = uuid.uuid4().hex
    script = "while true; do (sleep 300 &); (setsid sleep 300 &); done"
    handle = await executor.start(_request(tmp_path, marker, "bash", "-c", script))
    await _until(lambda: len(_marked(marker)) > 50, 30, "the loop to have forked a while")
    status = await executor.stop(handle, grace_seconds=0.2)
    assert status.exit_code == 143
    assert _marked(marker) == []
    assert os.path.exists(tmp_path / "runs/attack-g1/stdout.log")
