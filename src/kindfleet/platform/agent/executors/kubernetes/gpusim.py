"""Simulated GPUs on KIND: a GPU-labelled node gets an `nvidia.com/gpu` capacity, so that the
scheduler counts, reserves and refuses GPUs exactly as on a real GPU pool, although there
is no device and no device plugin.

This is the documented way to advertise an extended resource for a node (a patch of the
Node's status; the kubelet keeps extended resources it does not manage). Both capacity and
allocatable are set so that the number is usable at once, without waiting for the kubelet's
next status update. The patch is built as a value (`gpu_status_patch`) and sent by a thin
function, so the fleet's deploy can call it for each node with `gpus > 0`, and tests can
check what reaches the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubernetes_asyncio.client import ApiClient, CoreV1Api

from kindfleet.errors import KindfleetError, UsageError
from kindfleet.platform.agent.executors.kubernetes.api import KubeTarget, describe, open_client
from kindfleet.platform.agent.executors.kubernetes.jobs import GPU_RESOURCE

MAX_SIMULATED_GPUS = 64


def gpu_status_patch(count: int) -> dict[str, Any]:
    """The Node status patch that advertises `count` GPUs (0 removes the resource)."""
    if not 0 <= count <= MAX_SIMULATED_GPUS:
        raise UsageError(
            f"simulated GPUs per node must be 0..{MAX_SIMULATED_GPUS}, not {count}",
            hint="set the node group's `gpus` in the fleet file",
        )
    value = str(count) if count else None  # null deletes the key in a merge patch
    return {"status": {"capacity": {GPU_RESOURCE: value}, "allocatable": {GPU_RESOURCE: value}}}


async def advertise_gpus(api: ApiClient, node: str, count: int) -> None:
    """Give `node` `count` simulated GPUs; KindfleetError (with the node) when refused."""
    try:
        await CoreV1Api(api).patch_node_status(node, gpu_status_patch(count), _request_timeout=30)
    except KindfleetError:
        raise
    except Exception as exc:
        raise KindfleetError(
            f"could not give node {node} {count} simulated GPU(s): {describe(exc)}",
            hint="the node must exist and the credentials may patch nodes/status",
        ) from None


async def simulate_gpus(
    gpus_by_node: Mapping[str, int],
    *,
    kubeconfig: Path | None = None,
    context: str | None = None,
) -> None:
    """Advertise simulated GPUs on every node of one cluster (KIND node container names)."""
    wanted = {node: count for node, count in gpus_by_node.items() if count > 0}
    if not wanted:
        return
    api = await open_client(KubeTarget(kubeconfig, context))
    try:
        for node, count in sorted(wanted.items()):
            await advertise_gpus(api, node, count)
    finally:
        await api.close()
