"""A rotation of a run's log, one step to whoever follows the log (`kindfleet logs --follow`).

The keeper's rotation is several steps (older copies move up, the newest part is copied to
`<name>.1`, the file is emptied: logcap.py), and a follower learns of it from two of them:
the new copy, and the emptied file. Looking between the two, it took the new copy for the
whole rotation, gave out the file again from its start and then, emptied, again: lines
twice. So the keeper rotates under a write lock, and a follower looks (the copy, the file's
size, its next bytes) under a read lock: it sees a log before a rotation or after it.

The locks are open file description locks (a process's own POSIX locks would go with any
descriptor of the file it closes, and the keeper opens and closes some while it copies) on
two bytes far past any log's end, so that they stand apart from any lock the run takes on its
own output. Neither side waits for the other unbounded: a run can take that byte too. The
keeper then puts the rotation off to its next look, and past twice the cap rotates without
the lock (the disk comes first); the run's follower waits until told to stop. Standard
library only: the keeper and spokectl import it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import math
import os
import struct
import threading
import time
from collections.abc import Iterator

_BYTE = 1 << 62  # the lock: past any file's end, and past what a run would lock
_TURN = _BYTE + 1  # the turnstile before it (below)
_TRIES = 20  # how many times the keeper asks for either at one look
_PAUSE = 0.001  # seconds between two of its asks
_LOOK_PAUSE = 0.01  # seconds between two asks of a follower (a rotation takes a while)
_BUSY = (errno.EAGAIN, errno.EACCES)


def _flock(kind: int, byte: int) -> bytes:
    """`struct flock` for one byte (l_pid 0, as open file description locks want it)."""
    return struct.pack("hhqqi4x", kind, os.SEEK_SET, byte, 1, 0)


def _take(fd: int, kind: int, byte: int) -> bool:
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _flock(kind, byte))
    except OSError as exc:
        if exc.errno in _BUSY:
            return False
        raise
    return True


def _give_back(fd: int, byte: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _flock(fcntl.F_UNLCK, byte))


def _take_soon(fd: int, byte: int) -> bool:
    for _ in range(_TRIES):
        if _take(fd, fcntl.F_WRLCK, byte):
            return True
        time.sleep(_PAUSE)
    return False


@contextlib.contextmanager
def rotating(write_fd: int) -> Iterator[bool]:
    """Held while the keeper rotates the file of `write_fd` (open for writing: a write
    lock takes one). Yields whether it got the lock (within about 40 ms): a look at the
    log waits out what runs under it.

    Read locks that overlap are granted while a write lock waits, so eight followers of a
    fast log, each looking again at once, held the lock between them all the time: the
    keeper never got it, and rotated unlocked at twice the cap. So the keeper first takes
    the turnstile, which a follower passes (takes and lets go) on its way in: once the
    keeper holds it, no new look starts, and the ones under way end."""
    fd = os.open(f"/proc/self/fd/{write_fd}", os.O_WRONLY | os.O_CLOEXEC)  # a lock of its own
    taken: list[int] = []
    try:
        for byte in (_TURN, _BYTE):
            if not _take_soon(fd, byte):
                break
            taken.append(byte)
        yield len(taken) == 2
    finally:
        for byte in reversed(taken):
            _give_back(fd, byte)
        os.close(fd)


def _enter(fd: int) -> bool:
    """Through the turnstile to a read lock, if neither is held by a writer."""
    if not _take(fd, fcntl.F_RDLCK, _TURN):
        return False
    try:
        return _take(fd, fcntl.F_RDLCK, _BYTE)
    finally:
        _give_back(fd, _TURN)


@contextlib.contextmanager
def looking(fd: int, stop: threading.Event, patience: float = math.inf) -> Iterator[bool]:
    """Held while a follower looks at the log of `fd` (open for reading; no other lock of
    the same open file is held meanwhile). Waits for a rotation under way to end, until
    `stop` is set or for `patience` seconds at most; yields whether it got the lock:
    without it (a run that holds the byte itself), the look may see a rotation half done."""
    given_up = time.monotonic() + patience
    got = _enter(fd)
    while not got and not stop.is_set() and time.monotonic() < given_up:
        stop.wait(_LOOK_PAUSE)
        got = _enter(fd)
    try:
        yield got
    finally:
        if got:
            _give_back(fd, _BYTE)
