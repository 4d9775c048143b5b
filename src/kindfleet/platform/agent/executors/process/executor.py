"""The embedded runtime's executor: each run is a tree of local processes, started, watched
and killed as a whole by the launcher (launcher.py, keeper.py) so that nothing of a run
outlives it, or the agent. Logs, the metrics file and outputs are written under the run's
directory and stay there; the agent only reads the metric lines back out of them
(numbers), never the rest.

A local run cannot be re-adopted by a new agent (its launcher and keeper died with the old
one, and killed it), so `recover` makes sure nothing of it is left and reports the run
LOST; the agent turns that into `failed` / `AgentRestarted` and the hub's retry policy
decides what happens next.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from kindfleet.platform.agent import paths
from kindfleet.platform.agent.executors.base import (
    RUNNING,
    ExecutorError,
    RefValue,
    RunHandle,
    RunPhase,
    RunRequest,
    RunStatus,
    Usage,
)
from kindfleet.platform.agent.executors.process.client import (
    Ended,
    LauncherClient,
    LaunchFailed,
)
from kindfleet.platform.agent.executors.process.environment import run_environment
from kindfleet.platform.agent.executors.process.logcap import KUBELET_LIKE, LogCap
from kindfleet.platform.agent.executors.process.meter import TreeMeter
from kindfleet.platform.agent.executors.process.tails import FileTail
from kindfleet.platform.agent.metrics import merge, parse_json_line, parse_stdout_line
from kindfleet.units import parse_memory

KILL_WAIT = 20.0  # after SIGKILL: the keeper's own bound on killing leftovers, and more


@dataclass
class _Live:
    meter: TreeMeter
    stdout: FileTail | None  # None: its directory could not be opened as the keeper made it
    metrics: FileTail | None
    dir_fd: int | None

    def close(self) -> None:
        if self.dir_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.dir_fd)
            self.dir_fd = None


class ProcessExecutor:
    name = "process"

    def __init__(
        self,
        state_dir: Path,
        *,
        cgroups: str = "auto",
        idle_seconds: float = 15.0,
        log_cap: LogCap = KUBELET_LIKE,
        memory_limits: bool = True,
    ) -> None:
        self._runs: tuple[int, int] | None = None  # the runs directory, as first seen
        self.launcher = LauncherClient(
            state_dir, cgroups=cgroups, idle_seconds=idle_seconds, log_cap=log_cap
        )
        self.memory_limits = memory_limits  # a run past its spec's memory is OOMKilled
        self._live: dict[str, _Live] = {}

    async def start(self, request: RunRequest) -> RunHandle:
        self._check_runs_dir(request.run_dir.parent)
        env = run_environment(request)
        memory = parse_memory(request.spec.resources.memory) if self.memory_limits else 0
        try:
            started = await self.launcher.run(
                request.key, request.run_dir, list(request.spec.command), env, memory
            )
        except LaunchFailed as exc:
            raise ExecutorError(exc.message, reason=exc.reason, exit_code=exc.code) from None
        dir_fd = _open_dir(request.run_dir)
        self._live[request.key] = _Live(
            TreeMeter(started.keeper, started.keeper_start),
            FileTail(paths.STDOUT, dir_fd) if dir_fd is not None else None,
            FileTail(paths.METRICS, dir_fd) if dir_fd is not None else None,
            dir_fd,
        )
        ref: dict[str, RefValue] = {
            "key": request.key,
            "pid": started.pid,
            "keeper": started.keeper,
            "keeper_start": started.keeper_start,
            "group": started.group or "",
        }
        return RunHandle(self.name, ref)

    def _check_runs_dir(self, runs: Path) -> None:
        """The runs directory is still the one the first run went to: a run can reach it
        and put a link to elsewhere in its place, and the next runs were made there."""
        found = paths.dir_identity(runs)
        if self._runs is None:
            self._runs = found
        if found is None or found != self._runs:
            raise ExecutorError(
                f"the spoke's runs directory {runs} is not the one its runs went to (replaced, "
                "by a run or by hand): nothing more starts here until the agent restarts with "
                "it put back"
            )

    async def poll(self, handle: RunHandle) -> RunStatus:
        ended = self.launcher.ended(_key(handle))
        if ended is None:
            return RunStatus(RunPhase.LOST, reason="AgentRestarted")
        return _status(ended.result()) if ended.done() else RUNNING

    def watch(self, handle: RunHandle, wake: asyncio.Event) -> bool:
        """The launcher says when a run ends: no polling."""
        ended = self.launcher.ended(_key(handle))
        if ended is None:
            return False
        ended.add_done_callback(lambda _: wake.set())
        return True

    async def stop(self, handle: RunHandle, *, grace_seconds: float) -> RunStatus:
        key = _key(handle)
        ended = self.launcher.ended(key)
        if ended is None:
            await self.launcher.prepare()
            return RunStatus(RunPhase.LOST, reason="AgentRestarted")
        if not ended.done():
            self.launcher.term(key)
            await asyncio.wait([ended], timeout=grace_seconds)
        if not ended.done():
            self.launcher.kill(key)
            await asyncio.wait([ended], timeout=KILL_WAIT)
        if not ended.done():
            return RunStatus(RunPhase.LOST, message="the run did not end after SIGKILL")
        return _status(ended.result())

    async def sample(self, handle: RunHandle) -> Usage | None:
        key = _key(handle)
        live = self._live.get(key)
        if live is None:
            return None
        ended = self.launcher.ended(key)
        running = ended is not None and not ended.done()
        # Once the run has ended its keeper may already hold the next run: measure no more.
        cpu, rss = live.meter.sample() if running else (0.0, 0)
        found = [parse_json_line(line) for line in _lines(live.metrics)]
        found += [parse_stdout_line(line) for line in _lines(live.stdout)]
        return Usage(cpu_cores=cpu, rss_bytes=rss, metrics=merge(found))

    async def recover(self, handle: RunHandle, request: RunRequest) -> RunStatus:
        killed = await self.launcher.prepare()
        note = f"; {len(killed)} leftover process(es) killed" if killed else ""
        return RunStatus(
            RunPhase.LOST,
            reason="AgentRestarted",
            message=f"the run's processes ended with the previous agent{note}",
        )

    async def release(self, handle: RunHandle) -> None:
        key = _key(handle)
        live = self._live.pop(key, None)
        if live is not None:
            live.close()
        ended = self.launcher.ended(key)
        if ended is not None and not ended.done():  # not expected: stop() ends a run first
            self.launcher.kill(key)
            await asyncio.wait([ended], timeout=KILL_WAIT)
        self.launcher.forget(key)

    async def close(self) -> None:
        for live in self._live.values():
            live.close()
        self._live.clear()
        await self.launcher.close()


def _lines(tail: FileTail | None) -> list[str]:
    return tail.read() if tail is not None else []


def _open_dir(run_dir: Path) -> int | None:
    """The run's directory, never through a link (a run can put one there at once)."""
    try:
        return os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None


def _key(handle: RunHandle) -> str:
    return str(handle.ref.get("key", ""))


def _status(ended: Ended) -> RunStatus:
    if ended.killed is not None:
        return RunStatus(RunPhase.EXITED, ended.code, ended.killed, ended.message)
    if ended.reason is not None:
        return RunStatus(
            RunPhase.LOST,
            reason=ended.reason,
            message="the process that held this run on the spoke died; the run was killed",
        )
    return RunStatus(RunPhase.EXITED, ended.code)
