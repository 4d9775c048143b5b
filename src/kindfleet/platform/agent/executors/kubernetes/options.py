"""What the kubernetes executor is told: where its Jobs go (namespace, spoke, image, TTL),
which cluster, and how it paces itself. Built from the agent's flags; tests build it
directly with short timings."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kindfleet.platform.agent.executors.kubernetes.api import KubeTarget
from kindfleet.platform.agent.executors.kubernetes.jobs import JobOptions

if TYPE_CHECKING:
    from kindfleet.platform.agent.settings import AgentSettings


@dataclass(frozen=True)
class KubeOptions:
    """Where the Jobs go and how the executor paces itself; tests shorten the timings."""

    job: JobOptions
    target: KubeTarget = field(default_factory=KubeTarget)
    request_timeout: float = 10.0
    watch_seconds: int = 240  # server-side timeout of one watch request
    resync_seconds: float = 60.0  # GET a Job this often even while its watch is healthy
    fallback_seconds: float = 2.0  # ... and this often while the watch is broken
    unschedulable_after: float = 30.0  # then a Pending pod is worth a message
    backoff_max: float = 10.0
    attempts: int = 4  # for create, delete and the nodes list when the server is flaky

    @property
    def namespace(self) -> str:
        return self.job.namespace

    @classmethod
    def from_agent(cls, settings: AgentSettings) -> KubeOptions:
        return cls(
            job=JobOptions(
                namespace=settings.namespace,
                spoke=settings.name,
                default_image=settings.job_image,
                ttl_seconds_after_finished=settings.job_ttl_seconds,
                termination_grace_seconds=max(0, math.ceil(settings.stop_grace_seconds)),
            ),
            target=KubeTarget(settings.kubeconfig, settings.context),
            request_timeout=settings.request_timeout,
            resync_seconds=settings.kube_resync_seconds,
            backoff_max=settings.backoff_max,
        )
