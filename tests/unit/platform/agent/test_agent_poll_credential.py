"""A long-poll answer that arrives after the agent's credential was taken back (410) or
replaced is dropped, not taken: found from outside, a poll answer held on a slow link came
after the 410 and the agent started work the hub had already moved elsewhere."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from kindfleet.platform.agent.loop import Agent


@pytest.mark.parametrize(("meanwhile", "taken"), [("new", []), ("old", ["work"])])
async def test_a_poll_answer_is_taken_only_for_the_credential_still_in_use(
    meanwhile: str, taken: list[str]
) -> None:
    """`meanwhile`: the credential the agent holds when the answer to its poll (asked with
    "old") arrives: a new one (taken back and registered again), or still the old one."""
    answered = asyncio.Event()
    asked: list[str] = []
    took: list[str] = []
    ready = asyncio.Event()
    ready.set()

    async def assignments(name: str, credential: str, *, wait: float) -> SimpleNamespace:
        asked.append(credential)
        if len(asked) > 1:
            await asyncio.sleep(3600)  # the next poll: nothing more to say
        await answered.wait()
        return SimpleNamespace(items=["work"])

    async def take(items: list[str]) -> int:
        took.extend(items)
        return len(items)

    agent = Agent.__new__(Agent)
    agent.settings = SimpleNamespace(name="s1", poll_wait=30.0, backoff_max=0.4)  # type: ignore[assignment]
    agent.session = SimpleNamespace(ready=ready, credential="old")  # type: ignore[assignment]
    agent.client = SimpleNamespace(assignments=assignments)  # type: ignore[assignment]
    agent.runs = SimpleNamespace(take=take)  # type: ignore[assignment]
    task = asyncio.create_task(agent._polls())
    try:
        while not asked:
            await asyncio.sleep(0.01)
        agent.session.credential = meanwhile
        answered.set()
        while len(asked) < 2:
            await asyncio.sleep(0.01)
        assert took == taken
        assert asked == ["old", meanwhile]
    finally:
        task.cancel()
