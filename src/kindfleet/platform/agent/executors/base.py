"""The seam between the agent and whatever actually runs work. The agent owns leases,
capacity, GPU ids, the outbox and the event order; an executor only starts, watches,
measures and stops one run at a time. Two implementations share this interface: `process`
(local processes, the embedded runtime) and `kubernetes` (a batch/v1 Job per run).

Everything an executor needs to find a run again after an agent restart goes into its
`RunHandle.ref` (keeper and start times; namespace, Job name and uid), which the agent stores
durably with the assignment. `recover` then decides: still running (re-adopt it, as a Job
can be), finished while the agent was away, or lost with the agent (a local process).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from kindfleet.errors import KindfleetError, PrerequisiteError
from kindfleet.platform.agent import paths
from kindfleet.platform.wire import WorkloadSpec

RefValue = str | int | float


class ExecutorError(KindfleetError):
    """A run could not be started; the message is short and holds no workload data."""

    def __init__(
        self, message: str, *, reason: str = "StartFailed", exit_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.code: int | None = exit_code


class ClusterUnreachable(PrerequisiteError):
    """The cluster cannot be asked now (its API server unreachable, overloaded, timing
    out): worth asking again, unlike a refusal (no right to list nodes)."""


@dataclass(frozen=True)
class RunRequest:
    """One attempt of one workload, as the agent hands it to an executor."""

    workload: str
    generation: int
    spec: WorkloadSpec
    run_dir: Path  # logs, metrics file and outputs of this attempt stay here, on the spoke
    gpu_ids: tuple[int, ...] = ()

    @property
    def key(self) -> str:
        return paths.run_key(self.workload, self.generation)


@dataclass(frozen=True)
class RunHandle:
    """What finds a run again; `ref` must be JSON-serialisable (it is stored on disk)."""

    executor: str
    ref: Mapping[str, RefValue]


class RunPhase(enum.StrEnum):
    RUNNING = "running"
    EXITED = "exited"  # finished; exit_code says how
    LOST = "lost"  # gone without an exit code (died with the agent, deleted behind our back)


@dataclass(frozen=True)
class RunStatus:
    phase: RunPhase
    exit_code: int | None = None
    reason: str | None = None  # e.g. OOMKilled, AgentRestarted
    message: str | None = None

    @property
    def running(self) -> bool:
        return self.phase is RunPhase.RUNNING


RUNNING = RunStatus(RunPhase.RUNNING)


@dataclass(frozen=True)
class Usage:
    """One sample of a run: resource use now, and numbers the workload emitted since the last
    sample (latest value per name)."""

    cpu_cores: float
    rss_bytes: int
    metrics: Mapping[str, float] = field(default_factory=dict)


@runtime_checkable
class Executor(Protocol):
    name: str

    async def start(self, request: RunRequest) -> RunHandle:
        """Start the run; raise `ExecutorError` when it cannot start at all."""
        ...

    async def poll(self, handle: RunHandle) -> RunStatus:
        """Cheap status check."""
        ...

    def watch(self, handle: RunHandle, wake: asyncio.Event) -> bool:
        """Set `wake` when the run ends, if this executor learns of that at once; True if
        so. False: the caller must poll (every `supervise_interval`)."""
        ...

    async def stop(self, handle: RunHandle, *, grace_seconds: float) -> RunStatus:
        """Ask the run to end, force it after `grace_seconds`; the final status."""
        ...

    async def sample(self, handle: RunHandle) -> Usage | None:
        """Resource use and workload metrics now; None when there is nothing to measure."""
        ...

    async def recover(self, handle: RunHandle, request: RunRequest) -> RunStatus:
        """After an agent restart: RUNNING if the run is still alive and adopted again,
        EXITED if it finished meanwhile, LOST if it cannot continue (it is then cleaned up)."""
        ...

    async def release(self, handle: RunHandle) -> None:
        """The run is over and reported: free what is left of it (stray processes, a Job)."""
        ...

    async def close(self) -> None: ...


def run_key(workload: str, generation: int) -> str:
    """Kept for fleet tooling (access.py) until it calls `spokectl logs`; the agent uses
    `paths.run_key`. Remove it then."""
    return paths.run_key(workload, generation)
