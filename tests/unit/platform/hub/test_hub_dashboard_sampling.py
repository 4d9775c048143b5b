"""The dashboard's activity sampler outlives a failed sample: its task ended on the first
one that raised, and the charts of the last minutes stopped for good, without a word."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from kindfleet.platform.hub.service.dashboard import Dashboard


class Flaky(Dashboard):
    def __init__(self) -> None:
        super().__init__(cast(Any, None), interval=0.01)
        self.calls = 0

    def sample(self) -> None:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("the registry could not be read")


async def test_a_failed_sample_is_said_and_sampling_goes_on(caplog) -> None:
    board = Flaky()
    async with board.sampling():
        deadline = time.monotonic() + 10
        while board.calls < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    assert board.calls >= 3
    assert "sampling the hub's counters for the dashboard failed" in caplog.text
