"""How often a keeper looks at something of its run that grows (its log files, its memory):
soon when it grows fast towards its limit, seldom when it is quiet. Looking costs the keeper
a few system calls; a thousand quiet runs must not cost a core. Standard library only."""

from __future__ import annotations

MIN_WAIT = 0.05  # seconds between two looks at something that grows fast
MAX_WAIT = 2.0  # and at something quiet


def next_wait(room: int, grown: int, waited: float) -> float:
    """How long to wait before the next look: half the time it would take, at the pace it
    grew over the last `waited` seconds, to fill the `room` left below its limit."""
    if grown <= 0 or waited <= 0:
        return MAX_WAIT
    return max(MIN_WAIT, min(MAX_WAIT, waited * max(room, 0) / grown / 2))
