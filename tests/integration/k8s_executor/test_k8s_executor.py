"""The kubernetes executor against a fake Kubernetes API server over real HTTP (kmock's
emulator): create, watch, failure, deadline, cancel, restart-reconcile, lost Jobs, GPUs and
capacity. The tests play the Job controller and the kubelet by patching statuses."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from k8s_fakeapi import (
    JOBS,
    NAMESPACE,
    PODS,
    complete,
    create_pod,
    fail,
    http,
    job,
    jobs,
    requests,
    watches,
    watching,
)

from kindfleet.platform.agent.executors.base import (
    Executor,
    ExecutorError,
    RunHandle,
    RunPhase,
    RunRequest,
)
from kindfleet.platform.agent.executors.kubernetes.executor import KubernetesExecutor
from kindfleet.platform.agent.executors.kubernetes.gpusim import simulate_gpus
from kindfleet.platform.agent.executors.kubernetes.jobs import job_manifest
from kindfleet.platform.wire import Capacity, WorkloadSpec

WID = "wl-0000000000000000beef"
NAME = f"{WID}-g1"


def request(tmp_path: Path, generation: int = 1, **fields: object) -> RunRequest:
    spec = WorkloadSpec.model_validate(
        {"name": "train", "command": ["python", "-c", "print(1)"], **fields}
    )
    return RunRequest(WID, generation, spec, tmp_path / f"run-g{generation}")


async def until_exited(executor: KubernetesExecutor, handle: RunHandle, timeout: float = 10.0):
    """Poll as the supervisor does until the run is no longer running."""
    deadline = time.monotonic() + timeout
    while True:
        status = await executor.poll(handle)
        if not status.running:
            return status
        assert time.monotonic() < deadline, f"the run never ended: {status}"
        await asyncio.sleep(0.05)


async def test_it_is_an_executor(executor):
    assert isinstance(executor, Executor)
    assert executor.name == "kubernetes"


async def test_create_watch_and_complete(executor, cluster, tmp_path):
    handle = await executor.start(request(tmp_path))
    assert handle.executor == "kubernetes"
    assert handle.ref["job"] == NAME
    assert handle.ref["namespace"] == NAMESPACE
    assert jobs(cluster) == [NAME]
    created = job(cluster, NAME)
    assert created["metadata"]["labels"]["kindfleet.dev/generation"] == "1"
    assert created["spec"]["backoffLimit"] == 0
    assert (await executor.poll(handle)).running

    await watching(cluster, JOBS)
    reads_before = len(requests(cluster, "GET", f"{JOBS}/{NAME}"))
    await complete(cluster, NAME)  # the Job controller's word, seen through the watch
    status = await until_exited(executor, handle)
    assert (status.phase, status.exit_code) == (RunPhase.EXITED, 0)
    assert len(requests(cluster, "GET", f"{JOBS}/{NAME}")) == reads_before  # no GET needed


async def test_failure_takes_the_exit_code_from_the_pod(executor, cluster, tmp_path):
    handle = await executor.start(request(tmp_path))
    await watching(cluster, PODS)
    pod = await create_pod(cluster, NAME)
    terminated = {"terminated": {"exitCode": 3, "reason": "Error"}}
    await http(
        cluster,
        "PATCH",
        f"{PODS}/{pod}/status",
        {
            "status": {
                "phase": "Failed",
                "containerStatuses": [{"name": "workload", "restartCount": 0, "state": terminated}],
            }
        },
    )
    await fail(cluster, NAME, "BackoffLimitExceeded")
    status = await until_exited(executor, handle)
    assert (status.phase, status.exit_code, status.reason) == (RunPhase.EXITED, 3, None)


async def test_a_failed_job_whose_pod_the_watch_missed_is_read_once(executor, cluster, tmp_path):
    handle = await executor.start(request(tmp_path))
    # The pod exists, but only in the store: no watch event was ever sent for it.
    cluster.objects["v1/pods", NAMESPACE, f"{NAME}-q"] = {
        "metadata": {"name": f"{NAME}-q", "labels": {"kindfleet.dev/job": NAME}},
        "status": {
            "containerStatuses": [{"name": "workload", "state": {"terminated": {"exitCode": 42}}}]
        },
    }
    await fail(cluster, NAME, "BackoffLimitExceeded")
    status = await until_exited(executor, handle)
    assert status.exit_code == 42


async def test_deadline_exceeded(executor, cluster, tmp_path):
    handle = await executor.start(request(tmp_path, timeout_seconds=30))
    assert job(cluster, NAME)["spec"]["activeDeadlineSeconds"] == 30
    await fail(cluster, NAME, "DeadlineExceeded")
    status = await until_exited(executor, handle)
    assert (status.phase, status.reason) == (RunPhase.EXITED, "DeadlineExceeded")


async def test_stop_deletes_the_job_in_the_foreground(executor, cluster, tmp_path):
    handle = await executor.start(request(tmp_path))
    status = await executor.stop(handle, grace_seconds=1)
    assert (status.phase, status.reason) == (RunPhase.EXITED, "JobDeleted")
    assert jobs(cluster) == []
    await executor.release(handle)  # already gone: nothing more to delete
    deletes = requests(cluster, "DELETE", f"{JOBS}/{NAME}")
    assert [d.params.get("propagationPolicy") for d in deletes] == ["Foreground"]


async def test_release_leaves_a_finished_job_to_its_ttl(executor, cluster, tmp_path):
    handle = await executor.start(request(tmp_path))
    await watching(cluster, JOBS)
    await complete(cluster, NAME)
    await until_exited(executor, handle)
    await executor.release(handle)
    assert jobs(cluster) == [NAME]  # its pod and logs stay readable until the TTL
    assert job(cluster, NAME)["spec"]["ttlSecondsAfterFinished"] == 600


async def test_release_deletes_a_job_that_did_not_finish(executor, cluster, tmp_path):
    handle = await executor.start(request(tmp_path))
    await executor.release(handle)
    assert jobs(cluster) == []
    deletes = requests(cluster, "DELETE", f"{JOBS}/{NAME}")
    assert [d.params.get("propagationPolicy") for d in deletes] == ["Background"]


async def test_restart_reconciles_from_the_cluster_instead_of_starting_twice(
    new_executor, cluster, tmp_path
):
    first = new_executor()
    handle = await first.start(request(tmp_path))
    await first.close()  # the agent dies; its Job runs on
    opened = watches(cluster, JOBS)

    second = new_executor()  # the next agent, with the handle it stored
    status = await second.recover(handle, request(tmp_path))
    assert status.running
    assert len(requests(cluster, "POST", JOBS)) == 1  # one create over both lifetimes
    await watching(cluster, JOBS, after=opened)
    await complete(cluster, NAME)
    status = await until_exited(second, handle)
    assert (status.phase, status.exit_code) == (RunPhase.EXITED, 0)
    assert jobs(cluster) == [NAME]


async def test_starting_a_run_that_exists_adopts_it(new_executor, cluster, tmp_path):
    first = new_executor()
    handle = await first.start(request(tmp_path))
    await first.close()
    second = new_executor()  # e.g. the agent died after creating the Job, before noting it
    again = await second.start(request(tmp_path))
    assert again.ref["job"] == handle.ref["job"]
    assert jobs(cluster) == [NAME]
    assert len(requests(cluster, "POST", JOBS)) == 1  # its run directory: adopted, not made


async def test_a_stranger_with_the_same_name_is_not_adopted(executor, cluster, tmp_path):
    other = job_manifest(WID, 1, request(tmp_path).spec, executor.kube.job)
    other["metadata"]["labels"]["kindfleet.dev/spoke"] = "spoke2"
    await http(cluster, "POST", JOBS, other)
    with pytest.raises(ExecutorError, match="not this run"):
        await executor.start(request(tmp_path))


async def test_a_job_deleted_behind_the_agent_s_back_is_lost(executor, cluster, tmp_path):
    handle = await executor.start(request(tmp_path))
    await watching(cluster, JOBS)
    await http(cluster, "DELETE", f"{JOBS}/{NAME}")
    status = await until_exited(executor, handle)
    assert (status.phase, status.reason) == (RunPhase.LOST, "JobDeleted")


async def test_recovering_a_job_that_is_gone_is_lost(new_executor, cluster, tmp_path):
    first = new_executor()
    handle = await first.start(request(tmp_path))
    await first.close()
    await http(cluster, "DELETE", f"{JOBS}/{NAME}")  # e.g. its TTL ran out meanwhile
    status = await new_executor().recover(handle, request(tmp_path))
    assert (status.phase, status.reason) == (RunPhase.LOST, "JobGone")


async def test_recovering_a_job_that_finished_meanwhile(new_executor, cluster, tmp_path):
    first = new_executor()
    handle = await first.start(request(tmp_path))
    await first.close()
    await complete(cluster, NAME)
    status = await new_executor().recover(handle, request(tmp_path))
    assert (status.phase, status.exit_code) == (RunPhase.EXITED, 0)


async def test_gpu_work_reaches_the_api_with_gpus_and_gpu_nodes(executor, cluster, tmp_path):
    await executor.start(request(tmp_path, resources={"gpu": 2}))
    pod = job(cluster, NAME)["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert pod["nodeSelector"] == {"gpu": "true"}


async def test_sample_reports_restarts_numbers_only(executor, cluster, tmp_path):
    handle = await executor.start(request(tmp_path))
    await watching(cluster, PODS)
    pod = await create_pod(cluster, NAME)
    await http(
        cluster,
        "PATCH",
        f"{PODS}/{pod}/status",
        {
            "status": {
                "containerStatuses": [
                    {"name": "workload", "restartCount": 2, "state": {"running": {}}}
                ]
            }
        },
    )

    deadline = time.monotonic() + 10
    while (usage := await executor.sample(handle)) is None or not usage.metrics["pod_restarts"]:
        assert time.monotonic() < deadline, "the pod's restarts never showed"
        await asyncio.sleep(0.05)
    usage = await executor.sample(handle)
    assert usage is not None
    assert usage.metrics == {"pod_restarts": 2.0, "pods_pending": 0.0, "unschedulable_seconds": 0.0}
    assert all(isinstance(v, float) for v in usage.metrics.values())


async def test_capacity_is_what_the_nodes_can_allocate(executor, cluster):
    ready = [{"type": "Ready", "status": "True"}]
    cluster.objects["v1/nodes", None, "fleet-spoke1-control-plane"] = {
        "metadata": {"name": "fleet-spoke1-control-plane"},
        "spec": {
            "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
        },
        "status": {"allocatable": {"cpu": "8", "memory": "16Gi"}, "conditions": ready},
    }
    for i, gpus in ((1, "2"), (2, "0")):
        cluster.objects["v1/nodes", None, f"fleet-spoke1-worker{i}"] = {
            "metadata": {"name": f"fleet-spoke1-worker{i}", "labels": {"gpu": "true"}},
            "status": {
                "allocatable": {"cpu": "3500m", "memory": "7Gi", "nvidia.com/gpu": gpus},
                "conditions": ready,
            },
        }
    assert await executor.capacity() == Capacity(cpu_millis=7000, memory_bytes=14 * 2**30, gpus=2)


async def test_simulated_gpus_reach_the_node_status(cluster, kubeconfig):
    cluster.objects["v1/nodes", None, "fleet-spoke1-worker"] = {
        "metadata": {"name": "fleet-spoke1-worker", "labels": {"gpu": "true"}},
        "status": {"capacity": {"cpu": "4"}, "allocatable": {"cpu": "4"}},
    }
    await simulate_gpus(
        {"fleet-spoke1-worker": 2, "fleet-spoke1-control-plane": 0},
        kubeconfig=kubeconfig,
        context="fake",
    )
    status = cluster.objects["v1/nodes", None, "fleet-spoke1-worker"]["status"]
    assert status["capacity"] == {"cpu": "4", "nvidia.com/gpu": "2"}
    assert status["allocatable"] == {"cpu": "4", "nvidia.com/gpu": "2"}
    patches = requests(cluster, "PATCH", "/api/v1/nodes/fleet-spoke1-worker/status")
    assert len(patches) == 1  # the node without GPUs was left alone
    assert requests(cluster, "PATCH", "/api/v1/nodes/fleet-spoke1-control-plane/status") == []


async def test_an_unreachable_api_server_stops_nothing(new_executor, tmp_path, unreachable):
    executor = new_executor(target=unreachable)
    handle = RunHandle("kubernetes", {"namespace": NAMESPACE, "job": NAME, "uid": ""})
    assert (await executor.recover(handle, request(tmp_path))).running  # adopted, read later
    assert (await executor.poll(handle)).running  # not lost: nobody knows it is gone
    with pytest.raises(ExecutorError, match="could not create the Job"):
        await executor.start(request(tmp_path, generation=2))
