"""A run's log as `spokectl logs` gives it out: its last lines (`--tail`), and what it writes
next, as it writes it (`--follow`), across its keeper's rotations (logcap.py).

The log is read through a descriptor opened once, never by name again: a rotation empties
that same file (it is read again from its start), and the keeper's last step replaces the
name with a copy of the file's newest part, while the descriptor keeps the whole file to
its end. Standard library only: spokectl starts on every `kindfleet logs`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from kindfleet.platform.agent.executors.process.tails import data_from

CHUNK = 1 << 16
PAUSE = 0.2  # seconds between two looks at a log that has nothing new


def last_lines(files: list[tuple[int, int]], n: int) -> bytes:
    """The last `n` lines of `files` ((descriptor, end) pairs: the newest rotated copy, then
    the log) read one after the other, reading from their ends only as far as needed."""
    if n <= 0:
        return b""
    found = b""
    for fd, end in reversed(files):
        upto = end
        while upto > 0 and found.count(b"\n") <= n:  # n + 1 newlines: the n lines are whole
            start = max(0, upto - CHUNK)
            found = os.pread(fd, upto - start, start) + found
            upto = start
    return b"".join(found.splitlines(keepends=True)[-n:])


def follow(fd: int, offset: int, write: Callable[[bytes], None], stop: threading.Event) -> None:
    """Write what is written to `fd` from `offset` on, until `stop` is set; then what is
    left, and return. A file found shorter than `offset`, or whose last bytes given out
    are no longer there (emptied and written past that point between two looks), was
    rotated: it is given out again from its start."""
    last = os.pread(fd, min(offset, _LAST), offset - min(offset, _LAST))
    while True:
        stopping = stop.is_set()  # read before the last look: nothing written is missed
        if os.fstat(fd).st_size < offset or (
            last and os.pread(fd, len(last), offset - len(last)) != last
        ):
            offset, last = 0, b""  # what went to the copy since the last look is not shown
        at = data_from(fd, offset)
        raw = os.pread(fd, CHUNK, at) if at is not None else b""
        if raw:
            assert at is not None
            write(raw.lstrip(b"\0") if at > offset else raw)  # past a hole: its zeros too
            offset = at + len(raw)
            last = (last + raw)[-_LAST:]
            continue
        if stopping:
            return
        stop.wait(PAUSE)


_LAST = 32
