"""The hub's heartbeat of its own: passes of health, deadlines and placement.

A pass runs every `tick_seconds`, and sooner when something changed (a submission, a
spoke back, capacity freed): the service kicks the scheduler after each such commit.
Passes never overlap and never kill the loop: an error is logged and the next pass runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from kindfleet.platform.hub.service.hub_service import HubService

log = logging.getLogger("kindfleet.hub")

MIN_GAP = 0.02  # seconds between two passes, so a burst of kicks costs one pass


class Scheduler:
    def __init__(self, service: HubService, tick_seconds: float) -> None:
        self._service = service
        self._tick = tick_seconds
        self._kicked = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        service.on_change = self.kick

    def kick(self) -> None:
        self._kicked.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kf-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kicked.wait(), timeout=self._tick)
            self._kicked.clear()
            try:
                await self._service.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("scheduler pass failed: %s", exc)
            await asyncio.sleep(MIN_GAP)


@asynccontextmanager
async def running(hub: HubService, *, serving: bool = True) -> AsyncIterator[HubService]:
    """Open the store, run the scheduler and the hub's ears; on the way out stop them,
    then the store.

    `serving=False`: the caller calls `hub.serving()` once its server answers (the
    process does; an in-process app serves as soon as its lifespan has started). The
    ears' watch of the loop runs with the scheduler: tests that step a fake clock run
    neither, and a fake clock's jumps are not stalls."""
    await hub.start()
    settings = hub.settings
    tasks: list[asyncio.Task[None]] = []
    scheduler = Scheduler(hub, settings.tick_seconds) if settings.scheduler else None
    if scheduler is not None:
        tasks.append(asyncio.create_task(hub.ears.watch(), name="kf-ears"))
        scheduler.start()
    if serving:
        hub.serving()
    try:
        yield hub
    finally:
        if scheduler is not None:
            await scheduler.stop()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await hub.close()
