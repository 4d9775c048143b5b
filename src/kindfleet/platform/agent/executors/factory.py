"""Executors by name, so the agent's `--executor` flag picks one and nothing else in the
agent knows which it is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from kindfleet.platform.agent.executors.base import Executor
from kindfleet.platform.wire import Capacity

if TYPE_CHECKING:
    from kindfleet.platform.agent.settings import AgentSettings


@runtime_checkable
class ReportsCapacity(Protocol):
    """An executor that knows what its runs can use (a cluster's nodes), so the spoke offers
    that instead of numbers from flags."""

    async def capacity(self) -> Capacity: ...


def make_executor(settings: AgentSettings) -> Executor:
    if settings.executor == "kubernetes":
        from kindfleet.platform.agent.executors.kubernetes.api import KubeTarget, check_target
        from kindfleet.platform.agent.executors.kubernetes.executor import KubernetesExecutor
        from kindfleet.platform.agent.executors.kubernetes.options import KubeOptions

        check_target(KubeTarget(settings.kubeconfig, settings.context))
        return KubernetesExecutor(KubeOptions.from_agent(settings))
    from kindfleet.platform.agent.executors.process.executor import ProcessExecutor
    from kindfleet.platform.agent.executors.process.logcap import LogCap

    cap = LogCap(settings.run_log_max_bytes, settings.run_log_max_files)
    return ProcessExecutor(
        settings.state_dir,
        cgroups=settings.run_cgroups,
        log_cap=cap,
        memory_limits=settings.run_memory_limits == "enforce",
    )
