"""What a spoke cluster offers (nodes' allocatable) and the simulated-GPU status patch."""

from __future__ import annotations

import pytest

from kindfleet.errors import UsageError
from kindfleet.platform.agent.executors.kubernetes.gpusim import gpu_status_patch
from kindfleet.platform.agent.executors.kubernetes.nodes import node_capacity
from kindfleet.platform.wire import Capacity


def node(name: str, cpu: str, memory: str, gpus: str | None = None, **spec) -> dict:
    allocatable = {"cpu": cpu, "memory": memory, "pods": "110"}
    if gpus is not None:
        allocatable["nvidia.com/gpu"] = gpus
    return {
        "metadata": {"name": name},
        "spec": spec,
        "status": {
            "allocatable": allocatable,
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def test_sums_the_allocatable_of_nodes_work_can_land_on():
    nodes = [
        node(
            "c-control-plane",
            "8",
            "16Gi",
            taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
        ),
        node("c-worker", "3900m", "7901404Ki", gpus="2"),
        node(
            "c-worker2",
            "4",
            "8Gi",
            gpus="1",
            taints=[{"key": "nvidia.com/gpu", "effect": "NoSchedule"}],
        ),
        node("c-worker3", "4", "8Gi", unschedulable=True),
    ]
    assert node_capacity(nodes) == Capacity(
        cpu_millis=7900, memory_bytes=7901404 * 1024 + 8 * 2**30, gpus=3
    )


def test_not_ready_and_unreadable_quantities_do_not_count():
    sick = node("a", "4", "8Gi")
    sick["status"]["conditions"] = [{"type": "Ready", "status": "Unknown"}]
    odd = node("b", "lots", "8Gi", gpus="x")
    assert node_capacity([sick, odd]) == Capacity(cpu_millis=0, memory_bytes=8 * 2**30, gpus=0)
    assert node_capacity([]) == Capacity(cpu_millis=0, memory_bytes=0, gpus=0)


def test_gpu_patch_sets_capacity_and_allocatable():
    assert gpu_status_patch(2) == {
        "status": {"capacity": {"nvidia.com/gpu": "2"}, "allocatable": {"nvidia.com/gpu": "2"}}
    }
    assert gpu_status_patch(0)["status"]["capacity"] == {"nvidia.com/gpu": None}
    with pytest.raises(UsageError):
        gpu_status_patch(-1)
