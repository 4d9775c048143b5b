"""The kubernetes executor against an API server that fails and a cluster that others act
on: answers lost after the work was done, deletes refused while a stop is under way, a
watch that expires every time, and a Job deleted and made again under the same name (by
anyone: it is never this run's, and never this agent's to delete). Each promise is checked
in what the emulator holds and in what the executor reports."""

from __future__ import annotations

import asyncio
import itertools

import kmock
import pytest
from k8s_fakeapi import JOBS, Fault, complete, eventually, http, job, jobs, requests, watching
from test_k8s_executor import NAME, WID, request, until_exited

from kindfleet.platform.agent.executors.base import ExecutorError, RunPhase
from kindfleet.platform.agent.executors.kubernetes.jobs import job_manifest


def _remake(cluster: kmock.KubernetesEmulator, executor, tmp_path, spoke: str = "spoke1"):
    """Someone else's Job under our Job's name, with the labels ours had (or another spoke's)."""
    other = job_manifest(WID, 1, request(tmp_path).spec, executor.kube.job)
    other["metadata"]["labels"]["kindfleet.dev/spoke"] = spoke
    return http(cluster, "POST", JOBS, other)


async def test_a_create_whose_answer_is_lost_is_adopted_not_made_twice(executor, cluster, tmp_path):
    cluster.fail(Fault("POST", JOBS, 500, done=True, times=1))  # created, then the answer lost
    handle = await executor.start(request(tmp_path))
    assert jobs(cluster) == [NAME]
    assert handle.ref["uid"] == job(cluster, NAME)["metadata"]["uid"]
    assert len(requests(cluster, "POST", JOBS)) == 2  # the retry was answered 409: adopted


async def test_a_create_whose_connection_drops_is_adopted_not_made_twice(
    executor, cluster, tmp_path
):
    cluster.fail(Fault("POST", JOBS, 0, done=True, times=1))
    handle = await executor.start(request(tmp_path))
    assert jobs(cluster) == [NAME]
    assert handle.ref["uid"] == job(cluster, NAME)["metadata"]["uid"]


async def test_recovering_does_not_delete_a_stranger_s_job_of_that_name(
    new_executor, cluster, tmp_path
):
    first = new_executor()
    handle = await first.start(request(tmp_path))
    await first.close()  # the agent dies; meanwhile its Job is deleted, another one made
    await http(cluster, "DELETE", f"{JOBS}/{NAME}")
    await _remake(cluster, first, tmp_path, spoke="spoke2")
    stranger = job(cluster, NAME)["metadata"]["uid"]

    second = new_executor()
    status = await second.recover(handle, request(tmp_path))
    assert (status.phase, status.reason) == (RunPhase.LOST, "JobReplaced")
    await second.release(handle)  # what the agent does with a run that ended
    assert jobs(cluster) == [NAME]
    assert job(cluster, NAME)["metadata"]["uid"] == stranger
    assert requests(cluster, "DELETE", f"{JOBS}/{NAME}")[1:] == []  # only the test's own


async def test_recovering_a_job_made_again_with_our_labels_is_not_adopted(
    new_executor, cluster, tmp_path
):
    first = new_executor()
    handle = await first.start(request(tmp_path))
    await first.close()
    await http(cluster, "DELETE", f"{JOBS}/{NAME}")
    await _remake(cluster, first, tmp_path)  # labels exactly ours: only the uid differs
    stranger = job(cluster, NAME)["metadata"]["uid"]

    second = new_executor()
    status = await second.recover(handle, request(tmp_path))
    assert (status.phase, status.reason) == (RunPhase.LOST, "JobReplaced")
    await second.release(handle)
    assert job(cluster, NAME)["metadata"]["uid"] == stranger  # not deleted


async def test_a_job_replaced_while_watched_is_lost_and_left_alone(executor, cluster, tmp_path):
    handle = await executor.start(request(tmp_path))
    await watching(cluster, JOBS)
    await http(cluster, "DELETE", f"{JOBS}/{NAME}")
    await _remake(cluster, executor, tmp_path)
    stranger = job(cluster, NAME)["metadata"]["uid"]
    await complete(cluster, NAME)  # the other Job's success is not this run's
    status = await until_exited(executor, handle)
    assert (status.phase, status.reason) == (RunPhase.LOST, "JobReplaced")
    await executor.release(handle)
    assert job(cluster, NAME)["metadata"]["uid"] == stranger


async def test_a_stop_does_not_end_while_the_job_cannot_be_deleted(executor, cluster, tmp_path):
    """A stop reported while its Job runs on would leave that Job running, forgotten (the
    agent's records say the run ended), while the hub may place the work again."""
    handle = await executor.start(request(tmp_path))
    refusing = cluster.fail(Fault("DELETE", f"{JOBS}/{NAME}", 503))
    stopping = asyncio.create_task(executor.stop(handle, grace_seconds=0.2))
    await eventually(
        lambda: (
            stopping.done()
            or len(requests(cluster, "DELETE", f"{JOBS}/{NAME}")) > executor.kube.attempts + 1
        ),
        what="the stop to end, or deletes tried beyond the create/delete retry budget",
    )
    assert not stopping.done(), stopping.result()
    assert jobs(cluster) == [NAME]

    refusing.times = 0  # the API server is back
    status = await asyncio.wait_for(stopping, 10)
    assert (status.phase, status.reason) == (RunPhase.EXITED, "JobDeleted")
    assert jobs(cluster) == []


async def test_a_stop_does_not_delete_a_job_made_in_place_of_ours(executor, cluster, tmp_path):
    handle = await executor.start(request(tmp_path))
    await http(cluster, "DELETE", f"{JOBS}/{NAME}")  # no watch waited for: the cache is stale
    await _remake(cluster, executor, tmp_path)
    stranger = job(cluster, NAME)["metadata"]["uid"]
    status = await executor.stop(handle, grace_seconds=0.2)
    assert (status.phase, status.reason) == (RunPhase.LOST, "JobReplaced")
    assert job(cluster, NAME)["metadata"]["uid"] == stranger


async def test_a_watch_that_always_expires_is_not_retried_in_a_tight_loop(
    executor, cluster, tmp_path
):
    cluster.fail(Fault("GET", JOBS, 410, watch=True))  # "resourceVersion too old", every time
    handle = await executor.start(request(tmp_path))

    def lists() -> list[float]:
        listed = [r for r in requests(cluster, "GET", JOBS) if not r.params.get("watch")]
        return [cluster.arrived[r.id] for r in listed]

    await eventually(lambda: len(lists()) >= 6, what="six lists")
    times = lists()
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.1, gaps  # backed off (Backoff(0.2): at least 0.1s), not hammered
    assert (await executor.poll(handle)).running  # and the run is still read, by GET


async def test_a_generation_started_before_whose_job_is_gone_is_not_created_again(
    new_executor, cluster, tmp_path
):
    first = new_executor()
    await first.start(request(tmp_path))
    await first.close()  # died before writing down that it had started the run
    await complete(cluster, NAME)
    await http(cluster, "DELETE", f"{JOBS}/{NAME}")  # ran, then removed by its TTL
    with pytest.raises(ExecutorError, match="never runs twice") as refused:
        await new_executor().start(request(tmp_path))
    assert refused.value.reason == "AlreadyRan"
    assert jobs(cluster) == []
    assert len(requests(cluster, "POST", JOBS)) == 1


async def test_a_generation_started_before_is_adopted_unread_while_the_api_is_down(
    new_executor, cluster, tmp_path
):
    first = new_executor()
    await first.start(request(tmp_path))
    await first.close()
    reading = cluster.fail(Fault("GET", f"{JOBS}/{NAME}", 503))
    second = new_executor()
    handle = await second.start(request(tmp_path))  # not failed: the Job may well run
    assert (await second.poll(handle)).running
    reading.times = 0
    await watching(cluster, JOBS)
    await complete(cluster, NAME)
    status = await until_exited(second, handle)
    assert (status.phase, status.exit_code) == (RunPhase.EXITED, 0)
    assert len(requests(cluster, "POST", JOBS)) == 1
