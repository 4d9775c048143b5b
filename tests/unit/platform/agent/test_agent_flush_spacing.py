"""The agent's posts of reports start at least FLUSH_SPACING apart, the first after a quiet
spell at once: under load a post the instant a report was committed carried three or four
reports, and each post cost the agent and the hub more than the reports in it."""

from __future__ import annotations

import asyncio
import itertools
from types import SimpleNamespace

from kindfleet.platform.agent import loop as agent_loop
from kindfleet.platform.agent.loop import Agent

SPACING = 0.5


def _agent(starts: list[float], flushed: asyncio.Event) -> Agent:
    agent = Agent.__new__(Agent)
    agent.settings = SimpleNamespace(backoff_max=0.4, flush_interval=30.0)  # type: ignore[assignment]
    ready = asyncio.Event()
    ready.set()
    agent.session = SimpleNamespace(ready=ready, credential="c")  # type: ignore[assignment]
    agent._flush_wake = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def flush() -> None:  # what a post does with the outbox: here, note its start
        starts.append(loop.time())
        flushed.set()

    agent.flush = flush  # type: ignore[method-assign]
    return agent


async def test_posts_are_spaced_and_the_first_is_at_once(monkeypatch) -> None:
    monkeypatch.setattr(agent_loop, "FLUSH_SPACING", SPACING)
    loop = asyncio.get_running_loop()
    starts: list[float] = []
    flushed = asyncio.Event()
    agent = _agent(starts, flushed)
    task = asyncio.create_task(agent._flushes())
    try:
        woken = loop.time()
        agent._flush_wake.set()  # a report committed after a quiet spell
        await asyncio.wait_for(flushed.wait(), 10)
        assert starts[0] - woken < SPACING  # not held back
        for _ in range(20):  # reports committed one after the other, 20 ms apart
            agent._flush_wake.set()
            await asyncio.sleep(0.02)
        busy = loop.time() - starts[0]
        while not starts or loop.time() - starts[-1] < 2 * SPACING:  # until all is posted
            await asyncio.sleep(0.05)
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert len(starts) >= 2 and all(gap >= SPACING for gap in gaps), starts
        assert len(starts) <= 2 + busy / SPACING, starts  # not one post per report
    finally:
        task.cancel()
