"""Fixtures for the agent's integration tests: the hub double over real HTTP, and real agent
processes started exactly as the local runtime starts them. Every agent, every run it
started and every server is stopped at teardown, whatever the test did."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import psutil
import pytest
from agent_hubdouble import HubDouble, HubServer
from agent_it_helpers import AgentProc


@pytest.fixture
def hub() -> Iterator[HubServer]:
    server = HubServer(HubDouble())
    server.start()
    yield server
    server.double.hold_events = None
    server.stop()


@pytest.fixture
def start_agent(tmp_path: Path, hub: HubServer) -> Iterator[Callable[..., AgentProc]]:
    agents: list[AgentProc] = []

    def start(*extra: str, name: str = "spoke1") -> AgentProc:
        agent = AgentProc(tmp_path, hub, name, list(extra))
        agents.append(agent)
        return agent.start()

    yield start
    for agent in agents:
        agent.cleanup()


@pytest.fixture(autouse=True)
def _no_stray_children() -> Iterator[None]:
    yield
    for child in psutil.Process(os.getpid()).children(recursive=True):
        with suppress(psutil.Error):
            if "kindfleet.platform.agent" in " ".join(child.cmdline()):
                child.kill()
