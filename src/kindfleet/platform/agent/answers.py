"""When the hub last answered this spoke: what an exclusive run's lease counts from.

The agent notes when it *sent* each heartbeat, and keeps the latest one the hub answered
(2xx). The hub received that heartbeat no earlier than it was sent, so counting from the
send is never later than the hub's own count (`kindfleet.platform.exclusive`). Only
heartbeats count: they are what the hub's "last heard" is made of.

The clock is CLOCK_BOOTTIME where there is one: it keeps counting while the machine
sleeps (a suspended laptop, a paused VM), where the monotonic clock stops, and a lease
must never look younger than it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kindfleet.platform import exclusive
from kindfleet.platform.wire import WorkloadSpec


def lease_clock() -> float:
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is None:  # pragma: no cover - Linux has it
        return time.monotonic()
    return time.clock_gettime(boottime)


class HubAnswers:
    def __init__(self, clock: Callable[[], float] = lease_clock) -> None:
        self.clock = clock
        self.sent: float | None = None  # the send time of the last answered heartbeat

    def answered(self, sent: float) -> None:
        if self.sent is None or sent > self.sent:
            self.sent = sent

    def time_left(self, spec: WorkloadSpec, grace: float) -> float | None:
        """Seconds an exclusive run of `spec` may still go on (<= 0: stop it now, or do
        not start it); None for autonomous work."""
        lease = spec.lease
        if lease is None:
            return None
        unanswered = None if self.sent is None else self.clock() - self.sent
        return exclusive.time_left(unanswered, lease, grace)
