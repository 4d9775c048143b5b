"""Helpers for the agent's in-process tests."""

from __future__ import annotations

import sys
from dataclasses import replace

import psutil

from kindfleet.platform.agent.settings import AgentSettings
from kindfleet.platform.wire import WorkloadSpec


def with_capacity(settings: AgentSettings, **capacity: int) -> AgentSettings:
    return replace(settings, capacity=settings.capacity.model_copy(update=capacity))


def py(code: str, **fields: object) -> WorkloadSpec:
    return WorkloadSpec.model_validate(
        {"name": "job", "command": [sys.executable, "-c", code], **fields}
    )


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
