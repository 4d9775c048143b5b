"""How long the hub could hear its spokes: silence counts only while it could have heard.

A spoke is judged Lost on the silence the hub measures. Silence the hub could not have
heard is no evidence: before it serves HTTP (its store opening, its queue rebuilt, its
server starting), while its own event loop is stalled (a starved CPU: heartbeats wait
in the kernel, unread), while its store cannot commit (heartbeats are refused with 503).
Counting those seconds is how a slow hub restart declared live spokes Lost and ran
their work twice (issue 14).

So the hub keeps a *hearing*, on its monotonic clock (a jump of the wall clock moves
nothing here): when it began to serve, and how many seconds it has been deaf since,
marked about once a second. Silence is the audible part of the time since the spoke
was last heard; a spoke last heard before this process served counts from the moment
it began to serve, which also gives every spoke a fresh window after a restart,
however long the hub was away.

Every rounding here is toward a shorter silence: a deaf second is never counted as
audible, so a verdict can come a little late, never early. Pure: the service measures,
these functions add up.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

Mark = tuple[float, float]  # (monotonic time, deaf seconds from `since` up to it)


@dataclass(frozen=True, slots=True)
class Hearing:
    """The hub's hearing as of `now`.

    `since`: when it began to serve (None: not yet, so nothing has been audible);
    `marks`: (time, deaf seconds since `since`), in time order, the first at or after
    `since`; `deaf`: deaf seconds from `since` up to `now`.
    """

    since: float | None = None
    marks: tuple[Mark, ...] = ()
    now: float = 0.0
    deaf: float = 0.0

    def audible(self, start: float | None) -> float:
        """Seconds from `start` (None: before this hub served) to `now` during which the
        hub could hear.

        The deaf seconds are counted from the last mark at or before `start`, so deafness
        between that mark and `start` is counted too (never less than the truth). A
        `start` older than every mark counts from the oldest one: marks are only
        forgotten once that much audible time is past every window (`forget`)."""
        if self.since is None or self.now <= self.since:
            return 0.0
        if start is not None and start >= self.now:
            return 0.0
        if not self.marks:
            return max(0.0, self.now - self.since - self.deaf)
        i = bisect_right(self.marks, start if start is not None else self.since, key=_time) - 1
        at, deaf_then = self.marks[max(i, 0)]
        begin = at if start is None or i < 0 else max(start, at)
        return max(0.0, (self.now - begin) - (self.deaf - deaf_then))

    def until(self, start: float | None, seconds: float, wall_now: float) -> float:
        """When (by the wall clock) `seconds` of audible time since `start` will have
        passed if the hub hears without a break from now on: what an operator is told."""
        return wall_now + max(0.0, seconds - self.audible(start))


def _time(mark: Mark) -> float:
    return mark[0]


def forget(marks: Sequence[Mark], now: float, deaf: float, keep_audible: float) -> list[Mark]:
    """The marks still needed when no window is longer than `keep_audible` seconds of
    audible time: a mark is dropped only when the next one is already that far in the
    audible past, so a silence that began before it is past every window either way."""
    kept = list(marks)
    while len(kept) > 1:
        at, deaf_then = kept[1]
        if (now - at) - (deaf - deaf_then) <= keep_audible:
            break
        kept.pop(0)
    return kept
