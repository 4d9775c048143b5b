"""The demo's fleet and the mix of work it submits: GPU training that queues for the
GPUs, CPU preprocessing, jobs that fail once and succeed on retry, one job nothing can
hold (to show `explain` and the give-up deadline), and one that may go anywhere."""

from __future__ import annotations

import sys

from kindfleet.platform.wire import WorkloadSpec

FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: {name}
provider: local
hub:
  labels: {{cluster-role: hub}}
spokes:
  - name: {name}-gpu
    labels: {{pool: gpu, gpu: "true", workload-type: compute-intensive}}
    capacity: {{cpu: 4, memory: 8Gi, gpu: 2}}
  - name: {name}-cpu1
    labels: {{pool: cpu, workload-type: general}}
    capacity: {{cpu: 2, memory: 4Gi}}
  - name: {name}-cpu2
    labels: {{pool: cpu, workload-type: general}}
    capacity: {{cpu: 2, memory: 4Gi}}
"""


def _train(steps: int, step_seconds: float, *extra: str) -> list[str]:
    return [sys.executable, "-m", "kindfleet.demo.train", "--steps", str(steps),
            "--step-seconds", str(step_seconds), *extra]  # fmt: skip


def mix(*, scale: int = 1) -> list[WorkloadSpec]:
    """The workloads, in submission order; `scale` multiplies the plain CPU and GPU work."""
    gpu = [
        WorkloadSpec(
            name=f"train-gpu-{i}",
            command=_train(12, 0.12),
            resources={"cpu": "500m", "memory": "512Mi", "gpu": 1},
            selector={"match_labels": {"gpu": "true"}},
            priority=10,
        )
        for i in range(1, 4 * scale + 1)
    ]
    cpu = [
        WorkloadSpec(
            name=f"preprocess-{i}",
            command=_train(6, 0.1),
            resources={"cpu": "500m", "memory": "256Mi"},
            selector={"match_labels": {"pool": "cpu"}},
        )
        for i in range(1, 6 * scale + 1)
    ]
    flaky = [
        WorkloadSpec(
            name=f"flaky-eval-{i}",
            command=_train(4, 0.1, "--fail-first-attempts", "1"),
            resources={"cpu": "250m", "memory": "128Mi"},
            retry={"max_retries": 2},
        )
        for i in (1, 2)
    ]
    too_big = WorkloadSpec(
        name="train-8-gpus",
        command=_train(5, 0.1),
        resources={"cpu": "2", "memory": "4Gi", "gpu": 8},
        selector={"match_labels": {"gpu": "true"}},
        pending_deadline_seconds=6,
    )
    anywhere = WorkloadSpec(
        name="report",
        command=[sys.executable, "-c", "print('fleet report: ok')"],
        resources={"cpu": "100m", "memory": "64Mi"},
    )
    return [*gpu, *cpu, *flaky, too_big, anywhere]
