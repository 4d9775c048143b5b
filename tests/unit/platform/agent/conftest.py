"""Fixtures for the agent's in-process tests: settings in a temporary state directory, and
cleanup of any process group a test left behind."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import psutil
import pytest

from kindfleet.platform.agent.settings import AgentSettings
from kindfleet.platform.wire import Capacity


@pytest.fixture
def settings(tmp_path: Path) -> AgentSettings:
    state = tmp_path / "state"
    (state / "runs").mkdir(parents=True)
    return AgentSettings(
        hub="http://127.0.0.1:9",
        name="spoke1",
        state_dir=state,
        bootstrap_token_file=tmp_path / "token",
        capacity=Capacity(cpu_millis=4000, memory_bytes=8 << 30, gpus=2),
        stop_grace_seconds=1.0,
        supervise_interval=0.05,
    )


@pytest.fixture(autouse=True)
def _kill_leftover_groups() -> Iterator[None]:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    for child in psutil.Process().children(recursive=True):
        if child.pid not in before:
            with suppress(OSError):
                os.killpg(child.pid, signal.SIGKILL)
            with suppress(psutil.Error):
                child.kill()
