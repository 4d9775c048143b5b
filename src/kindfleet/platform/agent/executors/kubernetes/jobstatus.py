"""How a Job (and its pods) reads in the platform's terms, decided with no I/O.

The Job's own conditions are the authority on how a run ended; its pods add what the Job
does not say: the workload container's exit code, an OOM kill, an eviction. While the Job
runs, its pods also say why nothing is happening yet (no node fits, the image cannot be
pulled): the platform still sees a running attempt, since the cluster may yet place it, but
the agent can say why in its log and telemetry. Only what can never resolve on its own (an
invalid image name) ends the run early.

Every input is the API's JSON (camelCase dicts, as a watch delivers them), so the mapping
is tested on literal objects exactly as a cluster reports them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from kindfleet.platform.agent.executors.base import RUNNING, RunPhase, RunStatus
from kindfleet.platform.agent.executors.kubernetes.jobs import CONTAINER
from kindfleet.platform.wire import EXIT_CODES

Obj = Mapping[str, Any]

# Container waiting reasons that never clear by themselves: fail the run at once.
FATAL_WAITING = frozenset({"InvalidImageName", "ErrImageNeverPull"})
# Waiting reasons worth surfacing while the run is still considered running.
STUCK_WAITING = frozenset({"ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError"})
_UNINFORMATIVE = frozenset({"Error", "Completed"})  # a plain non-zero exit says enough


def parse_time(text: object) -> datetime | None:
    """An RFC 3339 timestamp as the API writes it, or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def condition(obj: Obj, type_: str) -> Obj | None:
    """The condition of `type_` when its status is True."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_ and cond.get("status") == "True":
            return cond  # type: ignore[no-any-return]
    return None


def succeeded(job: Obj) -> bool:
    status = job.get("status") or {}
    done = condition(job, "Complete") or condition(job, "SuccessCriteriaMet")
    return done is not None or int(status.get("succeeded") or 0) >= 1


def failure(job: Obj) -> Obj | None:
    """The Job's Failed (or, from 1.31, FailureTarget) condition when it has failed."""
    return condition(job, "Failed") or condition(job, "FailureTarget")


def finished(job: Obj) -> bool:
    return succeeded(job) or failure(job) is not None


def terminated(pods: Sequence[Obj]) -> Obj | None:
    """The workload container's `terminated` state in the newest pod that has one."""
    for pod in _newest_first(pods):
        state = _container_status(pod).get("state") or {}
        if "terminated" in state:
            return state["terminated"]  # type: ignore[no-any-return]
    return None


def needs_pods(job: Obj, pods: Sequence[Obj]) -> bool:
    """A failed Job whose exit code the pods known so far do not say (ask the API once)."""
    return failure(job) is not None and terminated(pods) is None and not _evicted(pods)


def job_status(
    job: Obj, pods: Sequence[Obj], *, now: datetime, unschedulable_after: float = 30.0
) -> RunStatus:
    """The run's status as the supervisor needs it: running, or exited and how."""
    if succeeded(job):
        return RunStatus(RunPhase.EXITED, exit_code=0)
    failed = failure(job)
    if failed is not None:
        return _failed(job, failed, pods)
    if (job.get("metadata") or {}).get("deletionTimestamp"):
        return RunStatus(
            RunPhase.LOST, reason="JobDeleted", message="the Job was deleted before it finished"
        )
    return _while_running(pods, now, unschedulable_after)


def exit_code(term: Obj | None) -> int | None:
    """The container's exit code as the hub takes it (an int32), else None: a value the
    API server sent out of range, reported as it was, was refused by the hub, and that
    report then held up every later one in the agent's outbox."""
    code = term.get("exitCode") if term else None
    return (
        code
        if isinstance(code, int) and not isinstance(code, bool) and code in EXIT_CODES
        else None
    )


def _failed(job: Obj, failed: Obj, pods: Sequence[Obj]) -> RunStatus:
    term = terminated(pods)
    code = exit_code(term)
    why = failed.get("reason") or "JobFailed"
    if why == "DeadlineExceeded":
        limit = (job.get("spec") or {}).get("activeDeadlineSeconds")
        message = f"ran longer than activeDeadlineSeconds ({limit}s)" if limit else None
        return RunStatus(RunPhase.EXITED, code, "DeadlineExceeded", message)
    evicted = _evicted(pods)
    if evicted is not None:
        return RunStatus(RunPhase.EXITED, code, "Evicted", _short(evicted.get("message")))
    term_reason = term.get("reason") if term else None
    if term_reason and term_reason not in _UNINFORMATIVE:  # OOMKilled, ContainerCannotRun, ...
        # Not the container's termination message: the workload writes that, and what a
        # workload writes stays on the spoke.
        return RunStatus(RunPhase.EXITED, code, term_reason)
    if code is not None and code != 0:
        return RunStatus(RunPhase.EXITED, code)  # the supervisor says NonZeroExitCode
    return RunStatus(RunPhase.EXITED, code, why, _short(failed.get("message")))


def _while_running(pods: Sequence[Obj], now: datetime, unschedulable_after: float) -> RunStatus:
    """What the newest pod (the current attempt) says about a Job that has not ended."""
    newest = _newest_first(pods)
    if not newest:
        return RUNNING
    pod = newest[0]
    waiting = (_container_status(pod).get("state") or {}).get("waiting") or {}
    reason = waiting.get("reason")
    if reason in FATAL_WAITING:  # kubelet's message: it names the image, which the spec holds
        return RunStatus(RunPhase.EXITED, None, reason, _short(waiting.get("message")))
    if reason in STUCK_WAITING:
        return RunStatus(RunPhase.RUNNING, None, reason, _short(waiting.get("message")))
    waited = unschedulable_for(pod, now)
    if waited is not None and waited >= unschedulable_after:
        cond = _pod_condition(pod, "PodScheduled") or {}
        detail = _short(cond.get("message")) or "no node fits"
        message = f"waiting {waited:.0f}s for a node: {detail}"
        return RunStatus(RunPhase.RUNNING, None, "Unschedulable", message)
    return RUNNING


def unschedulable_for(pod: Obj, now: datetime) -> float | None:
    """Seconds the scheduler has been unable to place `pod`, or None when it is placed."""
    if (pod.get("status") or {}).get("phase", "Pending") != "Pending":
        return None
    cond = _pod_condition(pod, "PodScheduled")
    if cond is None or cond.get("status") != "False" or cond.get("reason") != "Unschedulable":
        return None
    since = parse_time(cond.get("lastTransitionTime"))
    return max(0.0, (now - since).total_seconds()) if since else 0.0


def pod_metrics(pods: Sequence[Obj], now: datetime) -> dict[str, float]:
    """Numbers about a run's pods that the API gives for free (no metrics-server)."""
    restarts = sum(
        int(cs.get("restartCount") or 0)
        for pod in pods
        for cs in (pod.get("status") or {}).get("containerStatuses") or []
    )
    pending = [p for p in pods if (p.get("status") or {}).get("phase", "Pending") == "Pending"]
    waits = [w for p in pending if (w := unschedulable_for(p, now)) is not None]
    return {
        "pod_restarts": float(restarts),
        "pods_pending": float(len(pending)),
        "unschedulable_seconds": round(max(waits, default=0.0), 3),
    }


def _newest_first(pods: Sequence[Obj]) -> list[Obj]:
    def created(pod: Obj) -> str:
        return str((pod.get("metadata") or {}).get("creationTimestamp") or "")

    return sorted(pods, key=created, reverse=True)


def _container_status(pod: Obj) -> Obj:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    for cs in statuses:
        if cs.get("name") == CONTAINER:
            return cs  # type: ignore[no-any-return]
    return statuses[0] if statuses else {}


def _pod_condition(pod: Obj, type_: str) -> Obj | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return cond  # type: ignore[no-any-return]
    return None


def _evicted(pods: Sequence[Obj]) -> Obj | None:
    for pod in _newest_first(pods):
        status = pod.get("status") or {}
        if status.get("reason") == "Evicted":
            return status
    return None


def _short(text: object, limit: int = 300) -> str | None:
    if not isinstance(text, str) or not text:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"
