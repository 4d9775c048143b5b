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
    the log) read one after the other, reading from their ends only as far as needed. A line
    ends at a newline, and only there (as kubectl counts): a progress bar's carriage returns
    are inside its line."""
    if n <= 0:
        return b""
    chunks: list[bytes] = []
    newlines = 0
    for fd, end in reversed(files):
        upto = end
        while upto > 0 and newlines <= n:  # n + 1 newlines: the n lines after them are whole
            start = max(0, upto - CHUNK)
            chunk = os.pread(fd, upto - start, start)
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
    offset: int,
    write: Callable[[bytes], None],
    stop: threading.Event,
    *,
    last: bytes = b"",
    copy_id: Callable[[], object] = lambda: None,
) -> None:
    """Write what is written to `fd` from `offset` on (`last`: the bytes given out just
    before it), until `stop` is set; then what is there at that moment, and return.

    A rotation is seen as a new newest copy (`copy_id()`, its identity, changed), as a file
    shorter than `offset`, or as the last bytes given out no longer being there: the file
    is then given out again from its start (a line cut short first ends with a newline, so
    that two halves are never spliced into one); what went to the copy since the last look
    is not given out."""
    seen = copy_id()
    end: int | None = None
    while True:
        if end is None and stop.is_set():
            end = os.fstat(fd).st_size  # what is there now, and no more
        now = copy_id()
        size = os.fstat(fd).st_size
        if now != seen or size < offset or (last and _at(fd, offset, len(last)) != last):
            if last and not last.endswith(b"\n"):
                write(b"\n")
            offset, last, seen = 0, b"", now
            end = None if end is None else size
        at = data_from(fd, offset)
        length = CHUNK if at is None or end is None else min(CHUNK, end - at)
        raw = os.pread(fd, length, at) if at is not None and length > 0 else b""
        if raw:
            assert at is not None
            write(raw.lstrip(b"\0") if at > offset else raw)  # past a hole: its zeros too
            offset = at + len(raw)
            last = (last + raw)[-_LAST:]
            continue
        if end is not None:
            return
        stop.wait(PAUSE)


def _at(fd: int, offset: int, n: int) -> bytes:
    return os.pread(fd, n, offset - n) if offset >= n else b""


_LAST = 32
