"""Waiting for an event with a timeout, without losing a cancellation.

`asyncio.wait_for(event.wait(), t)` on Python 3.11 can swallow a `cancel()` that arrives in
the same loop iteration as the event (the wait "wins" and the task carries on): a loop
built on it can then never be stopped. `asyncio.timeout` keeps the two apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """True when `event` was set within `timeout` seconds, False when the time ran out."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def cancel_all(tasks: Sequence[asyncio.Task[Any]], timeout: float = 10.0) -> None:
    """Cancel the tasks and give them `timeout` seconds to finish."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)
