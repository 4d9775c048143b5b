"""What a spoke cluster offers the platform, read from its nodes with no I/O.

The hub places work by each spoke's capacity, so the number must be what this spoke's Jobs
can actually land on: the allocatable cpu, memory and `nvidia.com/gpu` of nodes that are
Ready, not cordoned, and not tainted against ordinary pods (KIND's control-plane is, unless
the fleet made it schedulable). A GPU taint does not count against a node: the Jobs that
need GPUs tolerate it. Pure, so it is tested on literal Node objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kindfleet.platform.agent.executors.kubernetes.jobs import GPU_RESOURCE
from kindfleet.platform.wire import Capacity
from kindfleet.units import parse_cpu, parse_memory

MAX_GPUS = 4096  # the wire's bound


def schedulable(node: Mapping[str, Any]) -> bool:
    spec = node.get("spec") or {}
    if spec.get("unschedulable"):
        return False
    for taint in spec.get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and taint.get("key") != GPU_RESOURCE:
            return False
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return True  # no Ready condition reported: count it rather than guess it away


def node_capacity(nodes: Iterable[Mapping[str, Any]]) -> Capacity:
    """The sum of what schedulable nodes can allocate; quantities it cannot read count 0."""
    cpu = memory = gpus = 0
    for node in nodes:
        if not schedulable(node):
            continue
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        cpu += _quantity(parse_cpu, allocatable.get("cpu"))
        memory += _quantity(parse_memory, allocatable.get("memory"))
        gpus += _quantity(int, allocatable.get(GPU_RESOURCE))
    return Capacity(cpu_millis=cpu, memory_bytes=memory, gpus=min(gpus, MAX_GPUS))


def _quantity(parse: Callable[[str], int], value: object) -> int:
    if value is None:
        return 0
    try:
        return max(0, int(parse(str(value))))
    except ValueError:
        return 0
