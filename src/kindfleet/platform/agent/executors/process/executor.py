"""The embedded runtime's executor: each run is a local process group. Logs, the metrics
file and outputs are written under the run's directory and stay there; the agent only
reads the metric lines back out of them (numbers), never the rest.

A local process cannot be re-adopted by a new agent (its pipes and parent are gone, and
PDEATHSIG has killed it), so `recover` kills whatever is left of the group and reports the
run LOST; the agent turns that into `failed` / `AgentRestarted` and the hub's retry policy
decides what happens next.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from kindfleet.platform.agent.executors.base import (
    RUNNING,
    ExecutorError,
    RefValue,
    RunHandle,
    RunPhase,
    RunRequest,
    RunStatus,
    Usage,
    exit_code_of,
)
from kindfleet.platform.agent.executors.process.launch import child_setup, run_environment
from kindfleet.platform.agent.executors.process.proctree import (
    TreeMeter,
    kill_leftovers,
    signal_group,
    start_time,
)
from kindfleet.platform.agent.metrics import (
    LineSplitter,
    merge,
    parse_json_line,
    parse_stdout_line,
)

STDOUT, STDERR, METRICS, OUTPUTS = "stdout.log", "stderr.log", "metrics.jsonl", "outputs"
READ_CHUNK = 1 << 20  # at most this much of a file is read per sample


class FileTail:
    """Reads what was appended to a file since the last read, as complete lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.lines = LineSplitter()

    def read(self) -> list[str]:
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read(READ_CHUNK)
        except FileNotFoundError:
            return []
        self.offset += len(data)
        return self.lines.feed(data)


@dataclass
class _Live:
    popen: subprocess.Popen[bytes]
    meter: TreeMeter | None
    stdout: FileTail
    metrics: FileTail


class ProcessExecutor:
    name = "process"

    def __init__(self, *, base_env: dict[str, str] | None = None) -> None:
        self.base_env = dict(os.environ) if base_env is None else base_env
        self._live: dict[int, _Live] = {}

    async def start(self, request: RunRequest) -> RunHandle:
        run_dir = request.run_dir
        (run_dir / OUTPUTS).mkdir(parents=True, exist_ok=True)
        (run_dir / METRICS).touch()
        env = run_environment(
            self.base_env,
            request,
            output_dir=str(run_dir / OUTPUTS),
            metrics_file=str(run_dir / METRICS),
        )
        with ExitStack() as files:
            out = files.enter_context((run_dir / STDOUT).open("ab"))
            err = files.enter_context((run_dir / STDERR).open("ab"))
            popen = _spawn(request.spec.command, env, out, err)
        try:
            started = start_time(popen.pid)
            meter: TreeMeter | None = TreeMeter(popen.pid)
        except Exception:  # it already ended: it still ran, poll() will say how
            started, meter = time.time(), None
        self._live[popen.pid] = _Live(
            popen, meter, FileTail(run_dir / STDOUT), FileTail(run_dir / METRICS)
        )
        ref: dict[str, RefValue] = {
            "pid": popen.pid,
            "pgid": popen.pid,
            "start": started,
            "dir": str(run_dir),
        }
        return RunHandle(self.name, ref)

    async def poll(self, handle: RunHandle) -> RunStatus:
        live = self._live.get(int(handle.ref["pid"]))
        if live is None:
            return RunStatus(RunPhase.LOST, reason="AgentRestarted")
        code = live.popen.poll()
        return RUNNING if code is None else RunStatus(RunPhase.EXITED, exit_code_of(code))

    async def stop(self, handle: RunHandle, *, grace_seconds: float) -> RunStatus:
        live = self._live.get(int(handle.ref["pid"]))
        pgid = int(handle.ref["pgid"])
        if live is None:
            kill_leftovers(pgid, float(handle.ref["start"]))
            return RunStatus(RunPhase.LOST, reason="AgentRestarted")
        if live.popen.poll() is None:
            signal_group(pgid, signal.SIGTERM)
            await _wait(live.popen, grace_seconds)
        if live.popen.poll() is None:
            signal_group(pgid, signal.SIGKILL)
            await _wait(live.popen, 10.0)
        signal_group(pgid, signal.SIGKILL)  # whatever it left behind in its group
        code = live.popen.poll()
        if code is None:
            return RunStatus(RunPhase.LOST, message="the process did not end after SIGKILL")
        return RunStatus(RunPhase.EXITED, exit_code_of(code))

    async def sample(self, handle: RunHandle) -> Usage | None:
        live = self._live.get(int(handle.ref["pid"]))
        if live is None:
            return None
        cpu, rss = live.meter.sample() if live.meter else (0.0, 0)
        found = [parse_json_line(line) for line in live.metrics.read()]
        found += [parse_stdout_line(line) for line in live.stdout.read()]
        return Usage(cpu_cores=cpu, rss_bytes=rss, metrics=merge(found))

    async def recover(self, handle: RunHandle, request: RunRequest) -> RunStatus:
        killed = kill_leftovers(int(handle.ref["pgid"]), float(handle.ref["start"]))
        note = f"; {len(killed)} leftover process(es) killed" if killed else ""
        return RunStatus(
            RunPhase.LOST,
            reason="AgentRestarted",
            message=f"the run's process ended with the previous agent{note}",
        )

    async def release(self, handle: RunHandle) -> None:
        pid = int(handle.ref["pid"])
        live = self._live.pop(pid, None)
        if live is not None and live.popen.poll() is None:
            live.popen.kill()
            await _wait(live.popen, 5.0)
        signal_group(int(handle.ref["pgid"]), signal.SIGKILL)

    async def close(self) -> None:
        self._live.clear()


def _spawn(
    command: list[str], env: dict[str, str], out: IO[bytes], err: IO[bytes]
) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(  # forked from the event-loop thread (see launch.py)
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            start_new_session=True,
            preexec_fn=child_setup(os.getpid()),  # noqa: PLW1509
            close_fds=True,
        )
    except FileNotFoundError:
        raise ExecutorError(
            f"command not found: {Path(command[0]).name}", reason="StartFailed", exit_code=127
        ) from None
    except PermissionError:
        raise ExecutorError(
            f"command not executable: {Path(command[0]).name}", reason="StartFailed", exit_code=126
        ) from None
    except OSError as exc:
        raise ExecutorError(f"could not start: {exc.strerror}", reason="StartFailed") from None


async def _wait(popen: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while popen.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
