"""routing: placement lands where it must. A label selector lands on a spoke with the
label; work only the biggest spoke can hold lands there; GPU work lands on a GPU spoke;
work that fits nowhere waits (never dropped) and `explain` says why, spoke by spoke."""

from __future__ import annotations

import time

from kindfleet.checks.context import Check, Context
from kindfleet.checks.model import CheckFailed, CheckSkipped
from kindfleet.fleetspec.internal import Cluster
from kindfleet.platform.wire import WorkloadState
from kindfleet.units import format_cpu


def _placed(ctx: Context, spec: object, what: str) -> str:
    (workload_id,) = ctx.submit([spec])  # type: ignore[list-item]
    (w,) = ctx.wait([workload_id], lambda w: w.state.terminal, f"the {what} workload", 120)
    if w.state != WorkloadState.SUCCEEDED or not w.spoke:
        raise CheckFailed(f"the {what} workload ended {w.state.value}: {w.message or w.reason}")
    return w.spoke


def labels(ctx: Context) -> tuple[str, dict[str, float]]:
    spokes = ctx.spec.spokes
    pairs = {(k, v) for s in spokes for k, v in s.labels.items()}
    telling = sorted(
        p for p in pairs if 0 < sum(s.labels.get(p[0]) == p[1] for s in spokes) < len(spokes)
    )
    if not telling:
        raise CheckSkipped("no label sets some spokes apart from the others")
    checked = []
    for key, value in telling[:3]:
        spec = ctx.workload("label", 0.1, selector={"match_labels": {key: value}})
        spoke = _placed(ctx, spec, f"{key}={value}")
        if ctx.spec.cluster(spoke).labels.get(key) != value:
            raise CheckFailed(f"work selecting {key}={value} ran on {spoke}, which lacks it")
        checked.append(f"{key}={value}->{spoke}")
    return ", ".join(checked), {"selectors": len(checked)}


def capacity(ctx: Context) -> tuple[str, dict[str, float]]:
    spokes: list[Cluster] = sorted(ctx.spec.spokes, key=lambda s: s.capacity.cpu_millis)
    big, rest = (
        spokes[-1],
        [s for s in spokes if s.capacity.cpu_millis < spokes[-1].capacity.cpu_millis],
    )
    if not rest:
        raise CheckSkipped("every spoke has the same cpu: no work fits only one of them")
    need = max(s.capacity.cpu_millis for s in rest) + 100
    spec = ctx.workload("big", 0.1, resources={"cpu": format_cpu(need), "memory": "32Mi"})
    spoke = _placed(ctx, spec, f"{format_cpu(need)} cpu")
    if ctx.spec.cluster(spoke).capacity.cpu_millis < need:
        raise CheckFailed(f"work needing {format_cpu(need)} cpu ran on {spoke}, which has less")
    return f"{format_cpu(need)} cpu landed on {spoke} ({big.name} is the biggest)", {"cpu_m": need}


def gpu(ctx: Context) -> tuple[str, dict[str, float]]:
    with_gpus = [s.name for s in ctx.spec.spokes if s.capacity.gpus]
    if not with_gpus:
        raise CheckSkipped("no spoke has GPUs")
    spec = ctx.workload("gpu", 0.1, resources={"cpu": "100m", "memory": "32Mi", "gpu": 1})
    spoke = _placed(ctx, spec, "GPU")
    if spoke not in with_gpus:
        raise CheckFailed(f"GPU work ran on {spoke}, which has no GPUs")
    return f"GPU work landed on {spoke}", {}


def unschedulable(ctx: Context) -> tuple[str, dict[str, float]]:
    """Work no spoke can hold stays Pending, and explain names every spoke's reason."""
    biggest = max(s.capacity.cpu_millis for s in ctx.spec.spokes)
    spec = ctx.workload(
        "nowhere", 0.1, resources={"cpu": format_cpu(biggest * 2), "memory": "32Mi"}
    )
    (workload_id,) = ctx.submit([spec])
    try:
        time.sleep(2.0)  # placement passes run every tick: long enough for several
        with ctx.target.hub(kubeconfig=ctx.options.kubeconfig) as hub:
            w = hub.get(workload_id)
            why = hub.explain(workload_id)
        if w.state != WorkloadState.PENDING:
            raise CheckFailed(f"work that fits nowhere is {w.state.value}, not Pending")
        said = {v.spoke: v for v in why.considered}
        silent = [s.name for s in ctx.spec.spokes if s.name not in said or not said[s.name].reasons]
        if silent or any(v.fits for v in said.values()):
            raise CheckFailed(f"explain gives no reason for {silent or 'a spoke it says fits'}")
        return f"waits in the queue; explain: {why.summary}", {"queue_length": why.queue_length}
    finally:
        ctx.cancel([workload_id])


CHECKS: dict[str, Check] = {
    "labels": labels,
    "capacity": capacity,
    "gpu": gpu,
    "unschedulable": unschedulable,
}
