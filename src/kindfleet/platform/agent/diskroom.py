"""A disk with no room is the spoke's state, not a run's fault. The agent's database waits
for room (journal.py); a run whose directory or log files cannot be made for want of room
waits too, unstarted, instead of being failed for good: a run that lost the race with a
filling disk was reported Failed (StartFailed) while runs accepted a moment later ran once
space was freed. Standard library only: the keeper uses it.
"""

from __future__ import annotations

import errno

NO_ROOM = "NoRoom"  # the reason a start is refused for want of room; the agent retries it
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def full(exc: OSError) -> bool:
    """Whether `exc` says the disk (or the user's quota) has no room left."""
    return exc.errno in _FULL


def reason(exc: OSError) -> str:
    """Why a run could not start: for want of room (the agent waits and tries again), or
    not."""
    return NO_ROOM if full(exc) else "StartFailed"
