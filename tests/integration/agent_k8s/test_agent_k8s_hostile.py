"""The real agent with `--executor kubernetes` where the cluster does not play along: killed
with -9 while its Job's create is on its way (the Job made, nothing of it written down),
that Job then gone by its TTL before the agent is back, and a Job deleted and made again
by someone else while the agent was away. Checked in what the
emulator holds and in what the hub double was told."""

from __future__ import annotations

import asyncio
import copy

import pytest
from agent_it_helpers import spec
from k8s_fakeapi import (
    JOBS,
    Fault,
    complete,
    eventually,
    http,
    job,
    jobs,
    requests,
    watches,
    watching,
)
from test_agent_k8s_e2e import _registered, _restarted, _sleeping, _types

from kindfleet.platform.wire import EventType

pytestmark = pytest.mark.slow

ACCEPTED, STARTED = EventType.ACCEPTED, EventType.STARTED


async def test_killed_while_its_job_was_being_created_it_adopts_that_job(hub, cluster, start_agent):
    agent = start_agent()
    await _registered(hub)
    cluster.fail(Fault("POST", JOBS, 0, done=True, hang=True, times=1))  # made, never answered
    wid = hub.double.run(spec("sleep", "3600"), "spoke1")
    name = f"{wid}-g1"
    await eventually(lambda: name in jobs(cluster), what="the Job")
    agent.kill9()  # between the Job's create and the agent's record of it
    assert STARTED not in _types(hub, wid)

    opened = watches(cluster, JOBS)
    await _restarted(hub, agent)
    await eventually(lambda: STARTED in _types(hub, wid), what="started")
    assert jobs(cluster) == [name]
    assert len(requests(cluster, "POST", JOBS)) == 1  # adopted, never created again
    await watching(cluster, JOBS, after=opened)
    await complete(cluster, name)
    await eventually(lambda: hub.double.workload(wid).state == "Succeeded", what="success")
    assert _types(hub, wid) == [ACCEPTED, STARTED, EventType.SUCCEEDED]
    assert await asyncio.to_thread(agent.terminate) == 0


async def test_a_job_made_again_by_someone_else_is_reported_lost_and_left_alone(
    hub, cluster, start_agent
):
    agent, wid, name = await _sleeping(hub, start_agent)
    agent.kill9()
    stranger = copy.deepcopy(job(cluster, name).raw)  # the same Job, as another spoke's
    del stranger["metadata"]["uid"]
    stranger["metadata"]["labels"]["kindfleet.dev/spoke"] = "spoke2"
    await http(cluster, "DELETE", f"{JOBS}/{name}")
    await http(cluster, "POST", JOBS, stranger)
    uid = job(cluster, name)["metadata"]["uid"]

    await _restarted(hub, agent)
    await eventually(lambda: hub.double.workload(wid).state == "Failed", what="failed")
    assert hub.double.workload(wid).reason == "JobReplaced"
    assert _types(hub, wid) == [ACCEPTED, STARTED, EventType.FAILED]
    assert await asyncio.to_thread(agent.terminate) == 0
    assert jobs(cluster) == [name]  # the other spoke's Job was not deleted
    assert job(cluster, name)["metadata"]["uid"] == uid
    assert requests(cluster, "DELETE", f"{JOBS}/{name}")[1:] == []  # only the test's own


async def test_killed_while_creating_a_job_that_then_ran_and_went_it_does_not_run_it_again(
    hub, cluster, start_agent
):
    agent = start_agent()
    await _registered(hub)
    cluster.fail(Fault("POST", JOBS, 0, done=True, hang=True, times=1))
    wid = hub.double.run(spec("sleep", "3600"), "spoke1")
    name = f"{wid}-g1"
    await eventually(lambda: name in jobs(cluster), what="the Job")
    agent.kill9()
    await complete(cluster, name)  # it ran to its end while the agent was away...
    await http(cluster, "DELETE", f"{JOBS}/{name}")  # ...and its TTL removed it

    await _restarted(hub, agent)
    await eventually(lambda: hub.double.workload(wid).state == "Failed", what="failed")
    assert hub.double.workload(wid).reason == "AlreadyRan"
    assert len(requests(cluster, "POST", JOBS)) == 1  # the generation was not run again
    assert jobs(cluster) == []
    assert await asyncio.to_thread(agent.terminate) == 0


async def test_an_api_server_down_at_start_does_not_keep_the_agent_from_the_hub(
    hub, cluster, start_agent
):
    """The cluster's nodes could not be read at start: the agent exited (3), a crash loop
    in a pod, so the hub heard nothing and declared the spoke Lost while its Jobs ran on.
    Now it joins and heartbeats offering nothing, and offers the nodes once they answer."""
    down = cluster.fail(Fault("GET", "/api/v1/nodes", 503))
    agent = start_agent()
    await _registered(hub)
    spoke = hub.double.spokes["spoke1"]
    await eventually(lambda: spoke.heartbeats >= 2, timeout=20, what="heartbeats")
    assert spoke.capacity == {"cpu_millis": 0, "memory_bytes": 0, "gpus": 0}
    assert agent.proc is not None and agent.proc.poll() is None  # still running

    down.times = 0  # the API server answers again
    offered = {"cpu_millis": 4000, "memory_bytes": 8 * 2**30, "gpus": 2}
    await eventually(lambda: spoke.capacity == offered, timeout=60, what="the nodes offered")
    wid = hub.double.run(spec("python", "-c", "print('hi')", resources={"gpu": 1}), "spoke1")
    await eventually(lambda: f"{wid}-g1" in jobs(cluster), timeout=20, what="the Job")
    assert await asyncio.to_thread(agent.terminate) == 0
