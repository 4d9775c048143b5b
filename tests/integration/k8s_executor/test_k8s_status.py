"""How Jobs and their pods read in the platform's terms, on literal API objects."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from kindfleet.platform.agent import reports
from kindfleet.platform.agent.executors.base import RunPhase, RunStatus
from kindfleet.platform.agent.executors.kubernetes.jobstatus import (
    finished,
    job_status,
    needs_pods,
    pod_metrics,
)
from kindfleet.platform.agent.outbox import Entry
from kindfleet.platform.wire import EventType

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def _ts(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def job(*conditions: tuple[str, str | None], **status: object) -> dict:
    conds = [{"type": t, "status": "True", "reason": r} for t, r in conditions]
    return {
        "metadata": {"name": "w1-g1"},
        "spec": {"activeDeadlineSeconds": 60},
        "status": {"conditions": conds, **status},
    }


def pod(
    *, terminated: dict | None = None, waiting: dict | None = None, phase: str = "Failed", **extra
) -> dict:
    state = {"terminated": terminated} if terminated else {"waiting": waiting} if waiting else {}
    return {
        "metadata": {"name": "w1-g1-abcde", "creationTimestamp": _ts(100)},
        "status": {
            "phase": phase,
            "containerStatuses": [{"name": "workload", "state": state, "restartCount": 0}],
            **extra,
        },
    }


def status(j: dict, pods: list[dict] | None = None) -> RunStatus:
    return job_status(j, pods or [], now=NOW, unschedulable_after=30)


def test_complete_is_success_with_exit_0():
    assert status(job(("Complete", None), succeeded=1)) == RunStatus(RunPhase.EXITED, 0)
    assert status(job(("SuccessCriteriaMet", "CompletionsReached"))).exit_code == 0
    assert finished(job(("Complete", None)))


def test_a_job_without_conditions_is_running():
    assert status(job(active=1)) == RunStatus(RunPhase.RUNNING)
    assert status(job(failed=1)).phase is RunPhase.RUNNING  # the controller's word comes next
    assert not finished(job(active=1))


def test_failed_takes_the_exit_code_from_the_pod():
    j = job(("Failed", "BackoffLimitExceeded"), failed=1)
    p = pod(terminated={"exitCode": 3, "reason": "Error"})
    assert needs_pods(j, [])
    assert not needs_pods(j, [p])
    s = status(j, [p])
    assert (s.phase, s.exit_code, s.reason) == (RunPhase.EXITED, 3, None)  # NonZeroExitCode


def test_an_exit_code_the_hub_would_refuse_is_not_reported():
    """An exit code out of int32 (or not a number) from the API server: reported as it
    came, the hub refused the report (422) and every later one waited behind it in the
    agent's outbox, for ever."""
    j = job(("Failed", "BackoffLimitExceeded"), failed=1)
    for code in (2**32 - 1, -(2**31) - 1, True, "3", 1.5):
        s = status(j, [pod(terminated={"exitCode": code, "reason": "Error"})])
        assert (s.phase, s.exit_code) == (RunPhase.EXITED, None), code
        event = reports.status("w", 1, EventType.FAILED, exit_code=s.exit_code)
        reports.batch([Entry(1, "event", json.dumps(event))])  # valid on the wire: sent
    assert status(j, [pod(terminated={"exitCode": -(2**31)})]).exit_code == -(2**31)


def test_oom_is_named_and_the_workload_s_own_message_stays_on_the_spoke():
    p = pod(terminated={"exitCode": 137, "reason": "OOMKilled", "message": "SECRET-OUTPUT"})
    s = status(job(("Failed", "BackoffLimitExceeded")), [p])
    assert (s.exit_code, s.reason, s.message) == (137, "OOMKilled", None)


def test_deadline_exceeded():
    s = status(job(("Failed", "DeadlineExceeded")), [])
    assert (s.phase, s.reason) == (RunPhase.EXITED, "DeadlineExceeded")
    assert s.exit_code is None
    assert "60s" in (s.message or "")
    p = pod(terminated={"exitCode": 143, "reason": "Error"})
    assert status(job(("FailureTarget", "DeadlineExceeded")), [p]).exit_code == 143


def test_failed_without_pods_says_why_from_the_job():
    s = status(job(("Failed", "BackoffLimitExceeded")), [])
    assert (s.phase, s.exit_code, s.reason) == (RunPhase.EXITED, None, "BackoffLimitExceeded")


def test_eviction():
    p = pod(reason="Evicted", message="The node was low on resource: memory.")
    s = status(job(("Failed", "PodFailurePolicy")), [p])
    assert (s.reason, s.message) == ("Evicted", "The node was low on resource: memory.")
    assert not needs_pods(job(("Failed", None)), [p])


def test_unschedulable_for_long_is_still_running_with_a_message():
    scheduled = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
    }
    young = pod(phase="Pending", conditions=[{**scheduled, "lastTransitionTime": _ts(5)}])
    old = pod(phase="Pending", conditions=[{**scheduled, "lastTransitionTime": _ts(45)}])
    assert status(job(active=1), [young]) == RunStatus(RunPhase.RUNNING)
    s = status(job(active=1), [old])
    assert (s.phase, s.reason) == (RunPhase.RUNNING, "Unschedulable")
    assert "waiting 45s for a node" in (s.message or "")
    assert "Insufficient nvidia.com/gpu" in (s.message or "")
    assert pod_metrics([old], NOW) == {
        "pod_restarts": 0.0,
        "pods_pending": 1.0,
        "unschedulable_seconds": 45.0,
    }


def test_image_problems():
    stuck = pod(phase="Pending", waiting={"reason": "ImagePullBackOff", "message": "back-off"})
    s = status(job(active=1), [stuck])
    assert (s.phase, s.reason) == (RunPhase.RUNNING, "ImagePullBackOff")
    bad = pod(phase="Pending", waiting={"reason": "InvalidImageName", "message": "bad ref"})
    s = status(job(active=1), [bad])
    assert (s.phase, s.reason, s.message) == (RunPhase.EXITED, "InvalidImageName", "bad ref")


def test_a_job_being_deleted_before_it_finished_is_lost():
    j = job(active=1)
    j["metadata"]["deletionTimestamp"] = _ts(1)
    assert status(j).phase is RunPhase.LOST
    done = job(("Complete", None))
    done["metadata"]["deletionTimestamp"] = _ts(1)
    assert status(done).exit_code == 0  # finished first: the result stands


def test_the_newest_pod_is_the_one_that_counts():
    older = pod(terminated={"exitCode": 1, "reason": "Error"})
    newer = pod(terminated={"exitCode": 2, "reason": "Error"})
    newer["metadata"]["creationTimestamp"] = _ts(10)
    assert status(job(("Failed", None)), [older, newer]).exit_code == 2
    restarts = pod(phase="Running")
    restarts["status"]["containerStatuses"][0]["restartCount"] = 2
    assert pod_metrics([restarts, older], NOW)["pod_restarts"] == 2.0
