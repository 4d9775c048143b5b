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

import errno
import os
import stat

from kindfleet.platform.agent.metrics import LineSplitter

READ_CHUNK = 1 << 20  # at most this much of a file is read per sample


class FileTail:
    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.lines = LineSplitter()
        self.last = b""  # the last bytes read, ending at `offset`

    def read(self) -> list[str]:
        try:  # one cheap look first: most of the time nothing was appended
            size = os.stat(self.path, follow_symlinks=False).st_size
        except OSError:
            return []
        if size < self.offset:
            self._again()
        if size <= self.offset:
            return []
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:  # not there (yet), or replaced by a symlink: nothing to read
            return []
        try:
            data = self._next(fd)
        except OSError:
            data = b""
        finally:
            os.close(fd)
        self.offset += len(data)
        self.last = (self.last + data)[-_LAST:]
        return self.lines.feed(data)

    def _next(self, fd: int) -> bytes:
        """The next chunk of the file, from where this tail is (moved when the file was
        emptied under it, or past a hole)."""
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return b""
        if self.last and os.pread(fd, len(self.last), self.offset - len(self.last)) != self.last:
            self._again()
        if info.st_size <= self.offset:
            return b""
        data_at = data_from(fd, self.offset)
        if data_at is None:
            return b""
        if data_at <= self.offset:
            return os.pread(fd, READ_CHUNK, self.offset)
        # A hole: nothing was written there, nor in the zeros before the data of the block
        # the file system gives back.
        self.lines = LineSplitter()
        data = os.pread(fd, READ_CHUNK, data_at)
        written = data.lstrip(b"\0")
        self.offset = data_at + len(data) - len(written)
        return written

    def _again(self) -> None:
        self.offset, self.lines, self.last = 0, LineSplitter(), b""


_LAST = 32


def data_from(fd: int, offset: int) -> int | None:
    """Where the next data is at or after `offset` (None: only a hole is left); `offset`
    itself where the file system cannot say."""
    try:
        return os.lseek(fd, offset, os.SEEK_DATA)
    except OSError as exc:
        return None if exc.errno == errno.ENXIO else offset
