"""The hub's ears: what it could hear, measured as it runs (rules/hearing.py adds it up).

Three ways the hub can be deaf while its spokes talk, each measured here:

- it does not serve yet: nothing is audible before `serving()` (called once the HTTP
  server listens and answers), so a restart that takes long to open its store, rebuild
  its queue or start its server does not spend the spokes' loss window;
- its event loop stalls (a starved CPU, a pause): a watch task sleeps `TICK` and counts
  every bit of lateness when it wakes as deaf time; a pass that runs before the watch
  has woken counts the stall still in progress;
- its store cannot commit: from the first failed commit to the next good one (a
  heartbeat refused with 503 is a heartbeat the hub did hear and could not keep).

It also keeps when it last heard each spoke, on the same monotonic clock, from the
moment the spoke's request reached the hub (a renewal the hub answered was received
no earlier than the spoke sent it: what exclusive leases count on).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from kindfleet.platform.hub.rules.hearing import Hearing, Mark, forget

log = logging.getLogger("kindfleet.hub.store")

TICK = 0.1  # how often the watch wakes to see whether the loop ran on time
MARK_EVERY = 1.0  # how often a mark of the deaf seconds so far is kept

Clock = Callable[[], float]


class Ears:
    def __init__(self, monotonic: Clock = time.monotonic, *, keep_audible: float) -> None:
        self._mono = monotonic
        self._keep = keep_audible
        self._lock = threading.Lock()  # store outcomes arrive on the writer's thread
        self.since: float | None = None
        self._marks: list[Mark] = []
        self._deaf = 0.0
        self._woke: float | None = None  # when the watch last ran
        self._store_down: float | None = None
        self.heard: dict[str, float] = {}

    def now(self) -> float:
        return self._mono()

    def serving(self) -> None:
        """The hub listens and answers: from now on silence is evidence."""
        with self._lock:
            if self.since is None:
                self.since = self._mono()
                self._marks = [(self.since, 0.0)]

    def keep_at_least(self, seconds: float) -> None:
        """Keep marks for windows this long too: exclusive work on a Lost spoke waits its
        whole lease of audible silence, and a silence older than every mark is counted from
        the oldest (never more than the marks kept): with marks for less than the lease,
        the work would wait forever. Raised when such work starts to wait (passes.py)."""
        self._keep = max(self._keep, seconds)

    def heard_from(self, spoke: str, at: float) -> None:
        """The spoke's request received at `at` (monotonic) was committed."""
        if at > self.heard.get(spoke, float("-inf")):
            self.heard[spoke] = at

    def forget_spoke(self, spoke: str) -> None:
        self.heard.pop(spoke, None)

    # ------------------------------------------------------------ the store

    def store(self, committed: bool) -> None:
        """The outcome of a commit attempt (on the writer's thread): deaf from the first
        failure to the next commit."""
        with self._lock:
            if not committed and self._store_down is None:
                self._store_down = self._mono()
            elif committed and self._store_down is not None:
                down = self._mono() - self._store_down
                self._add_deaf(down)
                self._store_down = None
                log.warning("the store commits again, after %.1fs", down)

    @property
    def store_down_since(self) -> float | None:
        return self._store_down

    # ------------------------------------------------------------ the loop

    async def watch(self) -> None:
        """Run for as long as the hub serves: count the loop's lateness as deaf time."""
        while True:
            before = self._mono()
            self._woke = before
            await asyncio.sleep(TICK)
            late = self._mono() - before - TICK
            with self._lock:
                if late > 0:
                    self._add_deaf(late)
                self._woke = self._mono()
                self._mark()

    def _add_deaf(self, seconds: float) -> None:
        if self.since is not None and seconds > 0:
            self._deaf += seconds

    def _mark(self) -> None:
        now = self._mono()
        if self.since is None or (self._marks and now - self._marks[-1][0] < MARK_EVERY):
            return
        self._marks.append((now, self._deaf))
        self._marks = forget(self._marks, now, self._deaf, self._keep)

    # ------------------------------------------------------------ what a pass sees

    def hearing(self) -> Hearing:
        """The hearing as of now, counting a stall or a store outage still in progress."""
        with self._lock:
            now = self._mono()
            deaf = self._deaf
            if self._woke is not None:
                deaf += max(0.0, now - self._woke - TICK)
            if self._store_down is not None:
                deaf += now - self._store_down
            return Hearing(self.since, tuple(self._marks), now, deaf)
