"""Wake-ups for spokes waiting on `GET /spokes/{name}/assignments?wait=N`.

A long-poll checks the store, then sleeps until placement or a cancellation touches its
spoke. A version counter per spoke closes the race between "nothing for you" and the
sleep: a wake-up that lands in between is seen, not lost.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict


class Notifier:
    def __init__(self) -> None:
        self._versions: dict[str, int] = defaultdict(int)
        self._waiters: dict[str, set[asyncio.Future[None]]] = defaultdict(set)
        self._closed = False

    def version(self, key: str) -> int:
        return self._versions[key]

    def wake(self, key: str) -> None:
        self._versions[key] += 1
        for fut in self._waiters.pop(key, ()):
            if not fut.done():
                fut.set_result(None)

    async def wait(self, key: str, seen: int, timeout: float) -> None:
        """Return on a wake-up after version `seen`, after `timeout`, or at shutdown."""
        if self._closed or self._versions[key] != seen or timeout <= 0:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[key].add(fut)
        try:
            await asyncio.wait([fut], timeout=timeout)
        finally:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(fut)
                if not waiters:
                    del self._waiters[key]

    def waiting(self) -> int:
        return sum(len(futures) for futures in list(self._waiters.values()))

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Release every waiter now and make later waits return at once (shutdown)."""
        self._closed = True
        for key in list(self._waiters):
            self.wake(key)
