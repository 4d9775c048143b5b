"""telemetry: what a workload measures reaches the hub, in order, none lost, none twice.

The agent samples a run every few seconds and sends, per sample, the latest value of each
metric the workload wrote (docs/platform.md): so the check writes a counter that only
grows, holds its last value long enough to be sampled, and asserts that the hub has the
samples in the order they were taken (by sequence number and time), each once, and the
final value (the one a lossy pipe drops first).
"""

from __future__ import annotations

import itertools

from kindfleet.checks.context import Check, Context
from kindfleet.checks.model import CheckFailed
from kindfleet.platform.wire import WorkloadState

STEPS = 20
EMIT = f"""
import json, os, time
def write(step):
    with open(os.environ["KINDFLEET_METRICS_FILE"], "a") as f:
        f.write(json.dumps({{"check_step": step}}) + "\\n")
for step in range({STEPS}):
    write(step)
    time.sleep(0.25)
time.sleep(5)  # the last value stays long enough for the agent to sample it
"""


def flow(ctx: Context) -> tuple[str, dict[str, float]]:
    (workload_id,) = ctx.submit([ctx.script("telemetry", EMIT)])
    (w,) = ctx.wait([workload_id], lambda w: w.state.terminal, "the telemetry workload", 120)
    if w.state != WorkloadState.SUCCEEDED:
        raise CheckFailed(f"the telemetry workload ended {w.state.value}: {w.message}")

    def arrived() -> list[tuple[int, float, float]] | None:
        with ctx.target.hub(kubeconfig=ctx.options.kubeconfig) as hub:
            series = hub.telemetry(workload=workload_id, limit=10000)
        points = sorted(
            (p.seq, p.at.timestamp(), p.metrics["check_step"])
            for s in series
            for p in s.points
            if "check_step" in p.metrics
        )
        return points if points and points[-1][2] == STEPS - 1 else None

    points = ctx.until(arrived, f"the workload's last value ({STEPS - 1}) at the hub", 30)
    seqs = [seq for seq, _, _ in points]
    if len(seqs) != len(set(seqs)):
        raise CheckFailed("a telemetry point was applied twice (same sequence number)")
    steps = [step for _, _, step in points]
    times = [at for _, at, _ in points]
    if steps != sorted(steps) or times != sorted(times):
        raise CheckFailed(f"telemetry out of order (by sequence number): {steps}")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return (
        f"{len(points)} samples arrived in order, each once, with the final value",
        {
            "samples": len(points),
            "duplicated": 0.0,
            "sample_interval_s": (sum(gaps) / len(gaps)) if gaps else 0.0,
        },
    )


CHECKS: dict[str, Check] = {"arrives-in-order": flow}
