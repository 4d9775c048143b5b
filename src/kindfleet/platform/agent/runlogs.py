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

from kindfleet.platform.agent.executors.process import rotationlock
from kindfleet.platform.agent.executors.process.tails import Position, last_data

CHUNK = 1 << 16
PAUSE = 0.2  # seconds between two looks at a log that has nothing new
# What is given out of one file at most: its last 64 MiB. A capped log holds far less (the
# kubelet's 10Mi); a run can still put a file of any size there (a sparse one of 64 GiB takes
# no disk), and `kindfleet logs` held all of it in memory, a tail read back to its start.
READ_MAX = 64 << 20


def last_lines(files: list[tuple[int, int]], n: int, *, limit: int = READ_MAX) -> bytes:
    """The last `n` lines of `files` ((descriptor, end) pairs: the newest rotated copy, then
    the log) read one after the other, reading from their ends only as far as needed, and no
    more than `limit` bytes in all. A line ends at a newline, and only there (as kubectl
    counts): a progress bar's carriage returns are inside its line."""
    if n <= 0:
        return b""
    chunks: list[bytes] = []
    newlines = 0
    left = limit
    for fd, end in reversed(files):
        upto, step = end, CHUNK
        while upto > 0 and newlines <= n and left > 0:  # n + 1 newlines: the n lines are whole
            # Holes (tails.py: never written, read as zeros) are passed over, in ever
            # longer steps: one may span gigabytes.
            asked = max(0, upto - step)
            found = last_data(fd, asked, upto)
            if found is None:
                upto, step = asked, step * 2
                continue
            data, ends = found
            before_hole = ends < upto  # the zeros of a hole's block were not written
            upto = ends
            start, step = max(data, upto - min(CHUNK, left)), CHUNK
            chunk = os.pread(fd, upto - start, start)
            if before_hole:
                chunk = chunk.rstrip(b"\0")
            if start == data > asked:  # right after a hole: the same
                chunk = chunk.lstrip(b"\0")
            left -= len(chunk)
            chunks.append(chunk)
            newlines += chunk.count(b"\n")
            upto = start
    return cut_lines(b"".join(reversed(chunks)), n)


def cut_lines(data: bytes, n: int) -> bytes:
    """The last `n` lines of `data`; a last line without its newline counts as one."""
    if n <= 0 or not data:
        return b""
    at = len(data) - 1 if data.endswith(b"\n") else len(data)
    for _ in range(n):
        at = data.rfind(b"\n", 0, at)
        if at < 0:
            return data
    return data[at + 1 :]


def follow(
    fd: int,
    at: Position,
    write: Callable[[bytes], None],
    stop: threading.Event,
    *,
    copy_id: Callable[[], object] = lambda: None,
    seen: object = None,
) -> None:
    """Write what is written to `fd` from `at` on (where a reader that gave out the file up
    to there is, when the newest copy was `seen`), until `stop` is set; then what is there
    at that moment, and return.

    A rotation is seen as a new newest copy (`copy_id()`, its identity, changed), as a file
    shorter than `at`, or as the last bytes given out no longer being there: the file is
    then given out again from its start (a line cut short first ends with a newline, so
    that two halves are never spliced into one); what went to the copy since the last look
    is not given out. Each look is taken under the rotation lock (rotationlock.py), so a
    rotation is seen once, whole; what it found is written out once the lock is let go (a
    slow reader of the output must not hold the keeper up)."""
    end: int | None = None
    while True:
        out: list[bytes] = []
        with rotationlock.looking(fd, stop):
            if end is None and stop.is_set():
                end = os.fstat(fd).st_size  # what is there now, and no more
            now = copy_id()
            if now != seen or at.moved(fd):
                if at.last and not at.last.endswith(b"\n"):
                    out.append(b"\n")
                at.restart()
                seen = now
                end = None if end is None else os.fstat(fd).st_size
            before = at.offset
            data, _ = at.read(fd, CHUNK, end)
        if data:
            out.append(data)
        if out:
            write(b"".join(out))
        if at.offset != before:
            continue
        if end is not None:
            return
        stop.wait(PAUSE)
