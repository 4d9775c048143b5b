"""Read bodies kept on the event loop while the store has not changed.

A client polling a quiet hub asks for the same page or workload again and again. The
hub is the store's only writer (one hub per database: `HubLock`), so the writer's count of
transactions says whether anything can have changed: a body read when the count was N is
still the answer while the count is N, and is served from here without a reader thread, a
transaction or a row (Kubernetes' API server answers reads from its watch cache for the
same reason). Any transaction at all, or one that failed, changes the count; the next read
goes to the store. The count is taken before the read starts, so a body is never newer
than the count it is kept under suggests it is older: at worst it is read once more.
Requests for a body being read at the same count wait for that read instead of each
starting its own (32 clients polling one page after a write read it once, not 32 times).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Hashable

KEPT_BYTES = 8 * 1024 * 1024  # at most this much rendered JSON is kept


class Bodies:
    def __init__(self, count: Callable[[], int], budget: int = KEPT_BYTES) -> None:
        self._count = count
        self._budget = budget
        self._size = 0
        self._kept: collections.OrderedDict[Hashable, tuple[int, bytes]] = collections.OrderedDict()
        self._reading: dict[Hashable, tuple[int, asyncio.Future[bytes]]] = {}

    async def get(self, key: Hashable, read: Callable[[], Awaitable[bytes]]) -> bytes:
        """The body kept for `key` if nothing was written since it was read; else `read()`."""
        seen = self._count()
        found = self._kept.get(key)
        if found is not None and found[0] == seen:
            self._kept.move_to_end(key)
            return found[1]
        flight = self._reading.get(key)
        if flight is not None and flight[0] == seen:
            return await asyncio.shield(flight[1])
        future = asyncio.ensure_future(read())
        future.add_done_callback(_retrieved)  # its starter may be gone (a client hung up)
        self._reading[key] = (seen, future)
        try:
            body = await asyncio.shield(future)
        finally:
            if self._reading.get(key, (0, None))[1] is future:
                del self._reading[key]
        self._keep(key, seen, body)
        return body

    def _keep(self, key: Hashable, seen: int, body: bytes) -> None:
        old = self._kept.get(key)
        if old is not None and old[0] > seen:
            return  # a slower read, started before a newer body was kept
        if old is not None:
            del self._kept[key]
            self._size -= len(old[1])
        if len(body) > self._budget:
            return
        self._kept[key] = (seen, body)
        self._size += len(body)
        while self._size > self._budget:
            _, (_, dropped) = self._kept.popitem(last=False)
            self._size -= len(dropped)


def _retrieved(future: asyncio.Future[bytes]) -> None:
    if not future.cancelled():
        future.exception()
