"""Reading what a run appended to its stdout log and metrics file since the last sample, as
complete lines: the only part of a run's files the agent reads (for metric lines).

Its keeper empties a log that outgrew its cap (logcap.py). A file shorter than what was
read of it, or whose last bytes read are no longer there (emptied and grown back past that
point between two samples), is read again from its start; a hole (left by a writer that
does not append, going on at its own offset after the truncation) is skipped. What the run
wrote between the last sample and the rotation went to the copy and is not read: metrics
that matter go to $KINDFLEET_METRICS_FILE, which is never rotated.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

from kindfleet.platform.agent.metrics import LineSplitter

READ_CHUNK = 1 << 20  # at most this much of a file is read per sample


class Position:
    """Where a reader of a run's log is: its offset, and the last bytes it read before it
    (how a log emptied by a rotation and written past that point since is told apart)."""

    def __init__(self, offset: int = 0, last: bytes = b"") -> None:
        self.offset = offset
        self.last = last

    @classmethod
    def ending(cls, fd: int, end: int) -> Position:
        """The position at `end` of the file of `fd`, as a reader that has read up to it."""
        n = min(_LAST, end)
        return cls(end, os.pread(fd, n, end - n))

    def moved(self, fd: int) -> bool:
        """Whether the file was emptied under this position: it is shorter, or the bytes
        read before the position are no longer there."""
        if os.fstat(fd).st_size < self.offset:
            return True
        n = len(self.last)
        return n > 0 and os.pread(fd, n, self.offset - n) != self.last

    def restart(self) -> None:
        self.offset, self.last = 0, b""

    def read(self, fd: int, chunk: int, end: int | None = None) -> tuple[bytes, bool]:
        """What was written from here on (at most `chunk` bytes, none at or past `end`), the
        position moved past it; and whether a hole was skipped to get there (nothing was
        written in it, nor in the zeros before the data of the block the file system
        gives back: they are not returned)."""
        at = data_from(fd, self.offset)
        length = 0 if at is None else chunk if end is None else min(chunk, end - at)
        if at is None or length <= 0:
            return b"", False
        with contextlib.suppress(OSError):  # not into a hole after it (its zeros, read out)
            length = min(length, max(1, os.lseek(fd, at, os.SEEK_HOLE) - at))
        raw = os.pread(fd, length, at)
        skipped = at > self.offset
        data = raw.lstrip(b"\0") if skipped else raw
        self.offset = at + len(raw)
        self.last = data[-_LAST:] if skipped else (self.last + data)[-_LAST:]
        return data, skipped


class FileTail:
    """`path` (with `dir_fd`: the name in the directory of that descriptor, the run's own
    directory opened once, so that a run that puts a link in place of its directory does
    not have the agent read elsewhere). A link, or a file with another name elsewhere (a
    hard link to another file), is not read."""

    def __init__(self, path: str, dir_fd: int | None = None) -> None:
        self.path = path
        self.dir_fd = dir_fd
        self.at = Position()
        self.lines = LineSplitter()

    @property
    def offset(self) -> int:
        return self.at.offset

    def read(self) -> list[str]:
        try:  # one cheap look first: most of the time nothing was appended
            size = os.stat(self.path, dir_fd=self.dir_fd, follow_symlinks=False).st_size
        except OSError:
            return []
        if size < self.offset:
            self._again()
        if size <= self.offset:
            return []
        try:
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            fd = os.open(self.path, flags, dir_fd=self.dir_fd)
        except OSError:  # not there (yet), or replaced by a symlink: nothing to read
            return []
        try:
            data = self._next(fd)
        except OSError:
            data = b""
        finally:
            os.close(fd)
        return self.lines.feed(data)

    def _next(self, fd: int) -> bytes:
        """The next chunk of the file, from where this tail is (moved when the file was
        emptied under it, or past a hole)."""
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_nlink != 1:
            return b""
        if self.at.moved(fd):
            self._again()
        data, skipped = self.at.read(fd, READ_CHUNK)
        if skipped:  # the line the hole cut short is gone
            self.lines = LineSplitter()
        return data

    def _again(self) -> None:
        self.at.restart()
        self.lines = LineSplitter()


_LAST = 32


def last_data(fd: int, start: int, end: int) -> tuple[int, int] | None:
    """The last stretch of data of the file between `start` and `end`, as (where it begins,
    where it ends: at `end`, or at the hole after it); None when there is only a hole."""
    found = None
    at = start
    while at < end:
        data = data_from(fd, at)
        if data is None or data >= end:
            break
        try:
            hole = os.lseek(fd, data, os.SEEK_HOLE)
        except OSError:  # the file system cannot say: all of it is data
            hole = end
        found = (data, min(hole, end))
        at = hole
    return found


def data_from(fd: int, offset: int) -> int | None:
    """Where the next data is at or after `offset` (None: only a hole is left); `offset`
    itself where the file system cannot say."""
    try:
        return os.lseek(fd, offset, os.SEEK_DATA)
    except OSError as exc:
        return None if exc.errno == errno.ENXIO else offset
