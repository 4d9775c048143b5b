"""Reading what a run appended to its stdout log and metrics file since the last sample, as
complete lines: the only part of a run's files the agent reads (for metric lines). A file
shorter than what was read of it was truncated (its keeper rotated it, logcap.py): it is
read again from its start."""

from __future__ import annotations

import os
import stat

from kindfleet.platform.agent.metrics import LineSplitter

READ_CHUNK = 1 << 20  # at most this much of a file is read per sample


class FileTail:
    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.lines = LineSplitter()

    def read(self) -> list[str]:
        try:  # one cheap look first: most of the time nothing was appended
            size = os.stat(self.path, follow_symlinks=False).st_size
        except OSError:
            return []
        if size < self.offset:
            self.offset = 0
            self.lines = LineSplitter()
        if size <= self.offset:
            return []
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:  # not there (yet), or replaced by a symlink: nothing to read
            return []
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size <= self.offset:
                return []
            data = os.pread(fd, READ_CHUNK, self.offset)
        except OSError:
            return []
        finally:
            os.close(fd)
        self.offset += len(data)
        return self.lines.feed(data)
