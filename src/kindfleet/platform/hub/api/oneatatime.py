"""One request at a time per spoke, for the spoke requests whose bodies may be large.

A heartbeat lists everything its spoke holds (up to 100,000 entries, megabytes of JSON
parsed on the event loop). An agent sends them one after another; a credential that sends
many at once (a bug, or whoever holds it) stalled every other spoke's heartbeat and every
submission. Serialised per spoke, before the body is read, a flood waits behind itself:
what it costs is charged to its own spoke, whose next heartbeat is what waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class PerSpoke:
    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def turn(self, name: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(name, (asyncio.Lock(), 0))
        self._locks[name] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[name]
            if users == 1:
                del self._locks[name]  # no spoke name is kept once nobody waits on it
            else:
                self._locks[name] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
