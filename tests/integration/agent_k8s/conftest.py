"""Fixtures for the real agent process with `--executor kubernetes`: the hub double of the
agent's own integration tests (real HTTP, in a thread) and kmock's Kubernetes emulator
(real HTTP, in the test's event loop), each reached only through the agent's real clients.

The helpers live with the tests they were written for; their directories are put on the
import path here, as pytest does for a test directory's own conftest."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[2]
for helpers in (TESTS / "integration" / "agent", TESTS / "integration" / "k8s_executor"):
    if str(helpers) not in sys.path:
        sys.path.insert(0, str(helpers))

from agent_hubdouble import HubDouble, HubServer  # noqa: E402
from agent_it_helpers import AgentProc  # noqa: E402
from k8s_fakeapi import NAMESPACE, K8sAsyncioEmulator, prepare, write_kubeconfig  # noqa: E402

READY = [{"type": "Ready", "status": "True"}]


@pytest.fixture
def kmock_options(kmock_options: dict) -> dict:
    return {**kmock_options, "cls": K8sAsyncioEmulator}


@pytest.fixture
async def cluster(kmock: K8sAsyncioEmulator) -> K8sAsyncioEmulator:
    """A spoke cluster as KIND makes it: a tainted control-plane and two GPU workers."""
    prepare(kmock)
    kmock.objects["v1/nodes", None, "spoke1-control-plane"] = {
        "metadata": {"name": "spoke1-control-plane"},
        "spec": {
            "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
        },
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi"}, "conditions": READY},
    }
    for worker in ("spoke1-worker", "spoke1-worker2"):
        kmock.objects["v1/nodes", None, worker] = {
            "metadata": {"name": worker, "labels": {"gpu": "true"}},
            "status": {
                "allocatable": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"},
                "conditions": READY,
            },
        }
    return kmock


@pytest.fixture
def hub() -> Iterator[HubServer]:
    server = HubServer(HubDouble())
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def start_agent(
    tmp_path: Path, hub: HubServer, cluster: K8sAsyncioEmulator
) -> AsyncIterator[Callable[..., AgentProc]]:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", cluster, context="kind-spoke1")
    agents: list[AgentProc] = []

    def start(*extra: str) -> AgentProc:
        flags = [
            "--executor", "kubernetes",
            "--kubeconfig", str(kubeconfig),
            "--context", "kind-spoke1",
            "--namespace", NAMESPACE,
            *extra,
        ]  # fmt: skip
        agent = AgentProc(tmp_path, hub, "spoke1", flags)
        agents.append(agent)
        return agent.start()

    yield start
    for agent in agents:
        agent.cleanup()
