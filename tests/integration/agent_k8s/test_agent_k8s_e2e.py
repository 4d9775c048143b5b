"""The real agent (`python -m kindfleet.platform.agent --executor kubernetes`) between the
hub double and a fake Kubernetes API: capacity from the nodes, a workload run as a Job and
reported in order for its generation, a cancel, and an agent killed with -9 that adopts
its Job on restart instead of creating it again. The test plays the Job controller."""

from __future__ import annotations

import asyncio

import pytest
from agent_it_helpers import spec
from k8s_fakeapi import JOBS, complete, eventually, job, jobs, requests, watches, watching

from kindfleet.platform.wire import EventType

pytestmark = pytest.mark.slow

ACCEPTED, STARTED = EventType.ACCEPTED, EventType.STARTED


def _types(hub, wid):
    return [e.type for e in hub.double.status_events(wid)]


async def _registered(hub) -> None:
    await eventually(lambda: hub.double.spokes.get("spoke1"), timeout=20, what="registration")


async def _sleeping(hub, start_agent):
    """An agent up, and a long run of its started: (agent, workload id, its Job's name)."""
    agent = start_agent()
    await _registered(hub)
    wid = hub.double.run(spec("sleep", "3600"), "spoke1")
    await eventually(lambda: STARTED in _types(hub, wid), what="started")
    return agent, wid, f"{wid}-g1"


async def _restarted(hub, agent) -> None:
    """Start the agent again and wait until it is up: a fresh interpreter on a starved CPU
    takes its time. It keeps its credential (no new registration), so its first heartbeat
    after the start is the sign."""
    before = hub.double.spokes["spoke1"].heartbeats
    agent.start()
    await eventually(
        lambda: hub.double.spokes["spoke1"].heartbeats > before, timeout=20, what="a heartbeat"
    )


async def test_a_workload_runs_as_a_job_and_is_reported_for_its_generation(
    hub, cluster, start_agent
):
    agent = start_agent()
    await _registered(hub)
    # The control-plane is tainted: only the two workers count.
    assert hub.double.spokes["spoke1"].capacity == {
        "cpu_millis": 4000,
        "memory_bytes": 8 * 2**30,
        "gpus": 2,
    }
    wid = hub.double.run(spec("python", "-c", "print('hi')", resources={"gpu": 1}), "spoke1")
    name = f"{wid}-g1"
    await eventually(lambda: name in jobs(cluster), what="the Job")
    labels = job(cluster, name)["metadata"]["labels"]
    assert labels["kindfleet.dev/workload"] == wid
    assert labels["kindfleet.dev/generation"] == "1"
    assert labels["kindfleet.dev/spoke"] == "spoke1"
    assert job(cluster, name)["spec"]["template"]["spec"]["nodeSelector"] == {"gpu": "true"}
    await eventually(lambda: STARTED in _types(hub, wid), what="started")

    await watching(cluster, JOBS)
    await complete(cluster, name)
    await eventually(lambda: hub.double.workload(wid).state == "Succeeded", what="success")
    events = hub.double.status_events(wid)
    assert [e.type for e in events] == [ACCEPTED, STARTED, EventType.SUCCEEDED]
    assert {e.generation for e in events} == {1}
    assert events[-1].exit_code == 0
    assert await asyncio.to_thread(agent.terminate) == 0
    assert jobs(cluster) == [name]  # left to its TTL, logs readable meanwhile


async def test_a_cancel_deletes_the_job(hub, cluster, start_agent):
    agent, wid, name = await _sleeping(hub, start_agent)
    hub.double.cancel(wid)
    await eventually(lambda: hub.double.workload(wid).state == "Cancelled", what="cancelled")
    assert name not in jobs(cluster)
    deletes = requests(cluster, "DELETE", f"{JOBS}/{name}")
    assert [d.params.get("propagationPolicy") for d in deletes] == ["Foreground"]
    assert await asyncio.to_thread(agent.terminate) == 0


async def test_a_killed_agent_adopts_its_job_instead_of_starting_it_twice(
    hub, cluster, start_agent
):
    agent, wid, name = await _sleeping(hub, start_agent)
    agent.kill9()  # no goodbye: the Job runs on in the cluster
    assert jobs(cluster) == [name]

    opened = watches(cluster, JOBS)
    await _restarted(hub, agent)
    await watching(cluster, JOBS, after=opened)
    await complete(cluster, name)
    await eventually(lambda: hub.double.workload(wid).state == "Succeeded", what="success")
    assert _types(hub, wid) == [ACCEPTED, STARTED, EventType.SUCCEEDED]  # each exactly once
    assert len(requests(cluster, "POST", JOBS)) == 1  # one Job over both agents' lives
    assert "re-adopted Job" in agent.log()
    assert await asyncio.to_thread(agent.terminate) == 0


async def test_a_gracefully_restarted_agent_leaves_its_job_running_and_adopts_it(
    hub, cluster, start_agent
):
    """A rolling restart of the orchestrator (SIGTERM) must not kill the spoke's work."""
    agent, wid, name = await _sleeping(hub, start_agent)
    assert await asyncio.to_thread(agent.terminate) == 0
    assert jobs(cluster) == [name]  # still there: not deleted on the way out
    assert requests(cluster, "DELETE", f"{JOBS}/{name}") == []
    assert _types(hub, wid) == [ACCEPTED, STARTED]  # no failure reported for it

    opened = watches(cluster, JOBS)
    await _restarted(hub, agent)
    await watching(cluster, JOBS, after=opened)
    await complete(cluster, name)
    await eventually(lambda: hub.double.workload(wid).state == "Succeeded", what="success")
    assert _types(hub, wid) == [ACCEPTED, STARTED, EventType.SUCCEEDED]
    assert len(requests(cluster, "POST", JOBS)) == 1
    assert await asyncio.to_thread(agent.terminate) == 0
