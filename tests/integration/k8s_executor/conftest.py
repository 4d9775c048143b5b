"""Fixtures for the kubernetes executor's tests: kmock's Kubernetes emulator served over real
HTTP in the test's event loop, a kubeconfig that points at it, and executors built exactly
as the agent builds them (through the kubeconfig), closed at teardown.

The emulator has no controllers: a Job never runs by itself, so the tests play the Job
controller and the kubelet by patching statuses over HTTP (which is what makes watchers
see the change)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import yaml
from k8s_fakeapi import NAMESPACE, K8sAsyncioEmulator, prepare, write_kubeconfig

from kindfleet.platform.agent.executors.kubernetes.api import KubeTarget
from kindfleet.platform.agent.executors.kubernetes.executor import KubernetesExecutor
from kindfleet.platform.agent.executors.kubernetes.jobs import JobOptions
from kindfleet.platform.agent.executors.kubernetes.options import KubeOptions


@pytest.fixture
def kmock_options(kmock_options: dict) -> dict:
    return {**kmock_options, "cls": K8sAsyncioEmulator}


@pytest.fixture
async def cluster(kmock: K8sAsyncioEmulator) -> K8sAsyncioEmulator:
    prepare(kmock)
    return kmock


@pytest.fixture
def kubeconfig(cluster: K8sAsyncioEmulator, tmp_path: Path) -> Path:
    return write_kubeconfig(tmp_path / "kubeconfig", cluster)


@pytest.fixture
def unreachable(tmp_path: Path) -> KubeTarget:
    """A kubeconfig whose API server address has nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "unreachable-kubeconfig"
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "gone", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
            }
        )
    )
    return KubeTarget(config, "gone")


@pytest.fixture
def kube_settings(kubeconfig: Path) -> KubeOptions:
    return KubeOptions(
        job=JobOptions(namespace=NAMESPACE, spoke="spoke1"),
        target=KubeTarget(kubeconfig, "fake"),
        request_timeout=3.0,
        watch_seconds=30,
        fallback_seconds=0.2,
        backoff_max=0.3,
        attempts=2,
        unschedulable_after=0.0,
    )


@pytest.fixture
async def new_executor(
    kube_settings: KubeOptions,
) -> AsyncIterator[Callable[..., KubernetesExecutor]]:
    made: list[KubernetesExecutor] = []

    def make(**changes: object) -> KubernetesExecutor:
        from dataclasses import replace

        executor = KubernetesExecutor(replace(kube_settings, **changes))
        made.append(executor)
        return executor

    yield make
    for executor in made:
        await executor.close()


@pytest.fixture
def executor(new_executor: Callable[..., KubernetesExecutor]) -> KubernetesExecutor:
    return new_executor()
