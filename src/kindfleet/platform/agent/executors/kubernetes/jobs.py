"""What one run of a workload looks like as a batch/v1 Job, decided with no I/O so that every
field can be checked exactly (and against the Kubernetes schema) without a cluster.

The Job's name is a pure function of the workload id and the generation (the fencing
token), so a restarted agent, or a retried create, arrives at the same name: the API
server's 409 then says "this run exists already" and the agent adopts it instead of starting
the work twice. Its labels say the same thing in a form selectors can use, which is how the
agent watches only its own Jobs and how `owns` tells its run from a stranger's.

The cluster, not the agent, decides where a run goes: the Job asks for what the workload
asked for (cpu, memory, whole `nvidia.com/gpu`s) and for a GPU-labelled node when it needs
GPUs; retries are the platform's business, so the Job itself never retries (backoffLimit 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kindfleet.platform.wire import (
    GENERATION_LABEL,
    WORKLOAD_LABEL,
    WorkloadSpec,
    job_name,
    label_value,
)

MANAGED_BY = "app.kubernetes.io/managed-by"
SPOKE_LABEL = "kindfleet.dev/spoke"
JOB_LABEL = "kindfleet.dev/job"  # on the pods: which Job they belong to
WORKLOAD_ANNOTATION = "kindfleet.dev/workload-id"  # the exact id (a label value is sanitised)

GPU_RESOURCE = "nvidia.com/gpu"
GPU_NODE_LABEL = ("gpu", "true")  # what the fleet file puts on GPU nodes (the article's label)
CONTAINER = "workload"
USER_ID = 10001
OUTPUT_DIR = "/kindfleet/outputs"
METRICS_DIR = "/kindfleet/metrics"
METRICS_FILE = f"{METRICS_DIR}/metrics.jsonl"
DEFAULT_IMAGE = "busybox:1.37"


@dataclass(frozen=True)
class JobOptions:
    """How this spoke renders Jobs; the agent's flags fill it in."""

    namespace: str
    spoke: str
    default_image: str = DEFAULT_IMAGE
    ttl_seconds_after_finished: int = 600
    termination_grace_seconds: int = 5  # the agent's SIGTERM -> SIGKILL grace, as in the pod


def run_labels(workload: str, generation: int, spoke: str) -> dict[str, str]:
    """The labels that identify one run of one workload on one spoke."""
    return {
        MANAGED_BY: "kindfleet",
        WORKLOAD_LABEL: label_value(workload),
        GENERATION_LABEL: str(generation),
        SPOKE_LABEL: spoke,
    }


def spoke_selector(spoke: str) -> str:
    """The label selector for every Job (and pod) this spoke's agent runs."""
    return f"{SPOKE_LABEL}={spoke}"


def owns(job: Mapping[str, Any], workload: str, generation: int, spoke: str) -> bool:
    """True when `job` is this run: same workload, same generation, same spoke."""
    meta = job.get("metadata") or {}
    labels = meta.get("labels") or {}
    exact = (meta.get("annotations") or {}).get(WORKLOAD_ANNOTATION)
    same_workload = exact == workload if exact is not None else None
    if same_workload is None:
        same_workload = labels.get(WORKLOAD_LABEL) == label_value(workload)
    return (
        same_workload
        and labels.get(GENERATION_LABEL) == str(generation)
        and labels.get(SPOKE_LABEL) == spoke
        and labels.get(MANAGED_BY) == "kindfleet"
    )


def uid_of(job: Mapping[str, Any]) -> str:
    """The Job's `metadata.uid` ("" when the server gave none)."""
    return str((job.get("metadata") or {}).get("uid") or "")


def same_job(job: Mapping[str, Any], uid: str) -> bool:
    """False when `job` is not the Job whose uid is `uid` but another made under its name
    since (deleted and created again); True when either uid is unknown."""
    found = uid_of(job)
    return not uid or not found or found == uid


def spoke_job(job: Mapping[str, Any], spoke: str) -> bool:
    """True when `job` carries the labels of a Job this spoke's agent runs."""
    labels = (job.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY) == "kindfleet" and labels.get(SPOKE_LABEL) == spoke


def job_manifest(
    workload: str, generation: int, spec: WorkloadSpec, options: JobOptions
) -> dict[str, Any]:
    """The batch/v1 Job for one run of `spec`."""
    name = job_name(workload, generation)
    labels = run_labels(workload, generation, options.spoke)
    job_spec: dict[str, Any] = {
        "backoffLimit": 0,
        "ttlSecondsAfterFinished": options.ttl_seconds_after_finished,
        "template": {
            "metadata": {"labels": {**labels, JOB_LABEL: name}},
            "spec": _pod_spec(workload, generation, spec, options),
        },
    }
    if spec.timeout_seconds is not None:
        job_spec["activeDeadlineSeconds"] = max(1, math.ceil(spec.timeout_seconds))
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": options.namespace,
            "labels": labels,
            "annotations": {WORKLOAD_ANNOTATION: workload},
        },
        "spec": job_spec,
    }


def _pod_spec(
    workload: str, generation: int, spec: WorkloadSpec, options: JobOptions
) -> dict[str, Any]:
    gpus = spec.resources.gpu
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,  # a workload never talks to the API server
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": options.termination_grace_seconds,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": USER_ID,
            "runAsGroup": USER_ID,
            "fsGroup": USER_ID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(workload, generation, spec, options)],
        "volumes": [{"name": "outputs", "emptyDir": {}}, {"name": "metrics", "emptyDir": {}}],
    }
    if gpus > 0:
        key, value = GPU_NODE_LABEL
        pod["nodeSelector"] = {key: value}
        pod["tolerations"] = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
    return pod


def _container(
    workload: str, generation: int, spec: WorkloadSpec, options: JobOptions
) -> dict[str, Any]:
    resources = spec.resources
    limits: dict[str, Any] = {"memory": resources.memory}  # no cpu limit: throttling only hurts
    if resources.gpu > 0:
        limits[GPU_RESOURCE] = resources.gpu  # requests default to limits for extended resources
    return {
        "name": CONTAINER,
        "image": spec.image or options.default_image,
        "command": list(spec.command),
        "env": _env(workload, generation, spec),
        "resources": {
            "requests": {"cpu": resources.cpu, "memory": resources.memory},
            "limits": limits,
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "outputs", "mountPath": OUTPUT_DIR},
            {"name": "metrics", "mountPath": METRICS_DIR},
        ],
    }


def _env(workload: str, generation: int, spec: WorkloadSpec) -> list[dict[str, str]]:
    """The spec's env, then the run's identity and paths, which a spec cannot override."""
    ours = {
        "KINDFLEET_WORKLOAD_ID": workload,
        "KINDFLEET_GENERATION": str(generation),
        "KINDFLEET_OUTPUT_DIR": OUTPUT_DIR,
        "KINDFLEET_METRICS_FILE": METRICS_FILE,
    }
    if spec.resources.gpu == 0:
        # NVIDIA's runtime would otherwise honour an image's NVIDIA_VISIBLE_DEVICES=all and
        # hand every GPU of the node to a pod that asked for none.
        ours["NVIDIA_VISIBLE_DEVICES"] = "void"
    env = [{"name": k, "value": v} for k, v in spec.env.items() if k not in ours]
    return env + [{"name": k, "value": v} for k, v in ours.items()]
